"""Text PostgreSQL would refuse, removed at the door: NUL characters and lone surrogates (a JSON "\\ud800" with no
pair) in any string of a record, and NaN/Infinity in its metadata (not JSON). Pure functions; the ingest applies
them to every record a parser yields, accepted or rejected, before anything is written."""
from __future__ import annotations

import math
import re
from collections import Counter

BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
MODES = ("strip", "reject")
REJECT_REASON = "bad_characters"


def clean_string(text: str, counts: Counter) -> str:
    if not BAD_CHARACTERS.search(text):
        return text
    found = BAD_CHARACTERS.findall(text)
    nuls = found.count("\x00")
    counts["nul_characters"] += nuls
    counts["lone_surrogates"] += len(found) - nuls
    return BAD_CHARACTERS.sub("", text)


def clean_value(value, counts: Counter):
    """`value` (JSON-like: dicts, lists, strings, numbers) with bad characters removed and non-finite floats made
    None, without recursion (a value may nest deep)."""
    root = [value]
    stack = [(root, 0)]
    while stack:
        holder, key = stack.pop()
        item = holder[key]
        if isinstance(item, str):
            holder[key] = clean_string(item, counts)
        elif isinstance(item, float):
            if not math.isfinite(item):
                counts["non_finite_numbers"] += 1
                holder[key] = None
        elif isinstance(item, dict):
            if any(isinstance(name, str) and BAD_CHARACTERS.search(name) for name in item):
                item = holder[key] = {clean_string(name, counts) if isinstance(name, str) else name: child
                                      for name, child in item.items()}
            stack.extend((item, name) for name in item)
        elif isinstance(item, (list, tuple)):
            if isinstance(item, tuple):
                item = holder[key] = list(item)
            stack.extend((item, index) for index in range(len(item)))
    return root[0]


def clean_record(record, mode: str, counts: Counter) -> bool:
    """Clean `record` (curation.sources.records.Record) in place; True when it held a bad character. In "reject"
    mode such a record (still cleaned, so it can be stored) is rejected as "bad_characters"; counts gets
    nul_characters, lone_surrogates, non_finite_numbers and records_with_bad_characters."""
    before = counts["nul_characters"] + counts["lone_surrogates"]
    record.turns = clean_value(list(record.turns), counts)
    record.metadata = clean_value(dict(record.metadata), counts)
    record.external_id = clean_string(str(record.external_id), counts)
    record.domain = clean_string(record.domain or "", counts)
    record.location = clean_string(record.location or "", counts)
    bad = counts["nul_characters"] + counts["lone_surrogates"] > before
    if bad:
        counts["records_with_bad_characters"] += 1
        if mode == "reject" and record.reject_reason is None:
            record.reject_reason = REJECT_REASON
    return bad


def summary(counts: Counter, mode: str) -> str | None:
    """The run's warning about what was cleaned, or None."""
    parts = []
    if counts["nul_characters"]:
        parts.append(f"{counts['nul_characters']:,} NUL character(s)")
    if counts["lone_surrogates"]:
        parts.append(f"{counts['lone_surrogates']:,} lone surrogate(s)")
    message = []
    if parts:
        records = counts["records_with_bad_characters"]
        done = "removed" if mode == "strip" else f"removed and the record(s) rejected as {REJECT_REASON}"
        message.append(f"{' and '.join(parts)} in {records:,} record(s) {done} (IMPORT_BAD_CHARACTERS={mode}).")
    if counts["non_finite_numbers"]:
        message.append(f"{counts['non_finite_numbers']:,} NaN or Infinity value(s) in metadata stored as null.")
    return " ".join(message) or None


def first_bad_character(value, where: str) -> str | None:
    """Where in `value` (JSON-like) the first NUL or lone surrogate is, as "metadata.notes[2]", and which; None
    when there is none. For requests, which are refused rather than cleaned."""
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            found = BAD_CHARACTERS.search(item)
            if found:
                return f"{path}: {'NUL characters are' if found.group() == chr(0) else 'lone surrogates are'} not allowed."
        elif isinstance(item, dict):
            for name, child in reversed(list(item.items())):
                if isinstance(name, str) and BAD_CHARACTERS.search(name):
                    return f"{path}: a key holds a NUL character or a lone surrogate, which are not allowed."
                stack.append((child, f"{path}.{name}"))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{path}[{index}]") for index, child in reversed(list(enumerate(item))))
    return None
