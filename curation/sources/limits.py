"""The limits every reader holds hostile files to, and the error it raises when one is passed.

A file is untrusted input: a few kilobytes of zstd can expand to gigabytes of newlines, one JSON line can be a
gigabyte, a JSON value can nest a hundred thousand deep. Readers stream in constant memory and stop at these
limits with a message naming the file, the place (line or byte offset) and the setting that was passed, never
the file's content. The values come from Django's settings when they are configured (IMPORT_MAX_RECORD_BYTES,
IMPORT_MAX_EXPANDED_BYTES, IMPORT_MAX_JSON_DEPTH, IMPORT_MAX_DOCUMENT_BYTES), else from the same environment variables, so the parsers stay
plain Python.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from curation.sources.records import SourceFormatError

DEFAULT_MAX_RECORD_BYTES = 16 * 2**20
# The largest real member is stackoverflow.com's Posts.xml (~100 GB expanded); a Pushshift month of comments
# is ~300 GB. 1 TiB passes every real dump and still ends a bomb that would otherwise run for days.
DEFAULT_MAX_EXPANDED_BYTES = 2**40
DEFAULT_MAX_JSON_DEPTH = 64
# A JSON file read whole (a Super-NaturalInstructions task, a JSON array of rows) cannot be streamed: parsed, it
# takes ~10x its size. Every task of the natural-instructions repository fits (GitHub holds no file over 100 MB).
DEFAULT_MAX_DOCUMENT_BYTES = 128 * 2**20


@dataclass(frozen=True)
class Limits:
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES


def current() -> Limits:
    """The limits in force: Django's settings when configured, else the environment, else the defaults."""
    try:
        from django.conf import settings

        if settings.configured:
            return Limits(
                getattr(settings, "IMPORT_MAX_RECORD_BYTES", DEFAULT_MAX_RECORD_BYTES),
                getattr(settings, "IMPORT_MAX_EXPANDED_BYTES", DEFAULT_MAX_EXPANDED_BYTES),
                getattr(settings, "IMPORT_MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH),
                getattr(settings, "IMPORT_MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES),
            )
    except ImportError:
        pass
    return Limits(
        int(os.environ.get("IMPORT_MAX_RECORD_BYTES") or DEFAULT_MAX_RECORD_BYTES),
        int(os.environ.get("IMPORT_MAX_EXPANDED_BYTES") or DEFAULT_MAX_EXPANDED_BYTES),
        int(os.environ.get("IMPORT_MAX_JSON_DEPTH") or DEFAULT_MAX_JSON_DEPTH),
        int(os.environ.get("IMPORT_MAX_DOCUMENT_BYTES") or DEFAULT_MAX_DOCUMENT_BYTES),
    )


class LimitExceeded(SourceFormatError):
    """A file passed one of the limits; ``setting`` names it."""

    def __init__(self, path, where, what, setting, limit):
        self.setting = setting
        super().__init__(path, where, f"{what} is over the limit {setting}={limit:,} (raise it to read this file)")


def record_too_large(path, where, limit: int) -> LimitExceeded:
    return LimitExceeded(path, where, "one record", "IMPORT_MAX_RECORD_BYTES", limit)


def expanded_too_large(path, where, limit: int) -> LimitExceeded:
    return LimitExceeded(path, where, "the decompressed data", "IMPORT_MAX_EXPANDED_BYTES", limit)


def too_deep(path, where, limit: int) -> LimitExceeded:
    return LimitExceeded(path, where, "JSON nesting", "IMPORT_MAX_JSON_DEPTH", limit)


_NAME = re.compile(r"[\w ]{1,40}")


def shown_names(names, noun="name", separator=", ") -> str:
    """Column or key names for a message when they read as names (at most 20 words); else only their count. A
    message must not quote what a file holds: it may be anything a server path points at, and a run's error is
    shown to annotators."""
    names = list(names)
    if len(names) <= 20 and all(isinstance(name, str) and _NAME.fullmatch(name) for name in names):
        return separator.join(names)
    return f"{len(names)} {noun}(s), not shown"


def check_file_size(path, limits: Limits | None = None) -> None:
    """A file read whole (a task JSON, a JSON array) must fit IMPORT_MAX_DOCUMENT_BYTES."""
    limits = limits or current()
    if os.path.getsize(path) > limits.max_document_bytes:
        raise LimitExceeded(path, "", "a JSON file read whole", "IMPORT_MAX_DOCUMENT_BYTES", limits.max_document_bytes)


def json_depth(value) -> int:
    """How deep a parsed JSON value nests (a scalar: 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def loads(text, path, where, limits: Limits | None = None):
    """json.loads held to IMPORT_MAX_JSON_DEPTH (JSONDecodeError passes through for the caller's message)."""
    import json

    limits = limits or current()
    try:
        value = json.loads(text)
    except RecursionError:
        raise too_deep(path, where, limits.max_json_depth) from None
    # Counting brackets is cheap; only a text with more of them than the limit can nest deeper than it.
    if text.count("{") + text.count("[") > limits.max_json_depth and json_depth(value) > limits.max_json_depth:
        raise too_deep(path, where, limits.max_json_depth)
    return value
