"""Line-numbered reading of NDJSON files, plain or zstd-compressed, in constant memory.

Pushshift's monthly dumps are single zstd frames written with a 2 GiB window (``zstd --long=31``),
so the decompressor must be allowed that window. The compressed bytes are fed in small blocks
and split into lines as they come out: nothing but the current block and the current line is
held. A file is treated as zstd when it starts with the zstd magic number, whatever its name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import zstandard

from curation.sources.limits import Limits, check_file_size, current, expanded_too_large, loads, record_too_large
from curation.sources.records import SourceFormatError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Pushshift dumps need a 2 GiB window (zstd --long=31).
ZSTD_MAX_WINDOW = 2**31
# Small, so that what one block decompresses to stays small whatever the data: zstd's densest block (RLE)
# expands ~4 bytes to 128 KiB, so 512 bytes give at most ~16 MiB, and real data (Pushshift JSON compresses
# ~10-20x) some kilobytes; the offset reported on a bad frame is then close to the damage.
COMPRESSED_BLOCK = 512


def is_zstd(path: Path | str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == ZSTD_MAGIC


def iter_lines(path: Path | str, limits: Limits | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for every non-blank line, numbered from 1.

    Raises SourceFormatError naming the file and the line (bad UTF-8, a line longer than
    IMPORT_MAX_RECORD_BYTES) or the compressed byte offset (bad or truncated zstd data, more than
    IMPORT_MAX_EXPANDED_BYTES decompressed).
    """
    path = Path(path)
    limits = limits or current()
    if is_zstd(path):
        numbered = _zstd_byte_lines(path, limits)
    else:
        numbered = _plain_byte_lines(path, limits.max_record_bytes)
    for number, raw in numbered:
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SourceFormatError(
                path, f"line {number}", f"not UTF-8 text (byte {error.start} of the line)"
            ) from None
        if text.strip():
            yield number, text


def parse_json_line(path: Path | str, number: int, text: str, limits: Limits | None = None):
    """Parse one NDJSON line, or raise SourceFormatError naming the file, line and column."""
    try:
        return loads(text, path, f"line {number}", limits)
    except json.JSONDecodeError as error:
        raise SourceFormatError(
            path, f"line {number}", f"invalid JSON at column {error.colno}: {error.msg}"
        ) from None


def iter_json_lines(path: Path | str) -> Iterator[tuple[int, object]]:
    """Yield ``(line_number, parsed_value)`` for every non-blank line of an NDJSON file."""
    limits = current()
    for number, text in iter_lines(path, limits):
        yield number, parse_json_line(path, number, text, limits)


def load_json_document(path: Path | str, limits: Limits | None = None):
    """A JSON file read whole (a task file, a JSON array): it is one record, held to IMPORT_MAX_RECORD_BYTES
    and IMPORT_MAX_JSON_DEPTH. JSONDecodeError and UnicodeDecodeError pass through for the caller's message."""
    limits = limits or current()
    check_file_size(path, limits)
    with open(path, "rb") as f:
        text = f.read().decode("utf-8-sig")
    return loads(text, path, "", limits)


def _plain_byte_lines(path: Path, max_record: int) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as f:
        number = 0
        while raw := f.readline(max_record + 2):  # + the line's own "\r\n"
            number += 1
            if len(raw) > max_record and (len(raw.rstrip(b"\r\n")) > max_record or not raw.endswith(b"\n")):
                raise record_too_large(path, f"line {number}", max_record)
            yield number, raw.rstrip(b"\r\n")


# Blank lines (only spaces, tabs, "\r") in a row, skipped in one step: a stream of newlines must cost no
# Python per line.
_BLANK_RUN = re.compile(rb"[ \t\r\n]*\n")  # one character class: no backtracking stack per line


def _zstd_byte_lines(path: Path, limits: Limits) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of a zstd file. Memory stays bounded whatever the data: each block decompressed
    is small (see _decompressed_blocks), the line being built is held to IMPORT_MAX_RECORD_BYTES and
    blank lines are counted, never collected."""
    max_record = limits.max_record_bytes
    decompressor = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    unfinished: list[bytes] = []  # pieces of a line that spans blocks
    pending = 0  # their length
    number = 1  # the line being built
    with open(path, "rb") as f:
        for block in _decompressed_blocks(path, f, decompressor, limits.max_expanded_bytes):
            pos = 0
            end = len(block)
            while pos < end:
                if not pending:
                    blank = _BLANK_RUN.match(block, pos)
                    if blank is not None:
                        number += blank.group().count(b"\n")
                        pos = blank.end()
                        continue
                newline = block.find(b"\n", pos)
                if newline < 0:
                    pending += end - pos
                    if pending > max_record:
                        raise record_too_large(path, f"line {number}", max_record)
                    unfinished.append(block[pos:])
                    break
                if pending + newline - pos > max_record + 1:
                    raise record_too_large(path, f"line {number}", max_record)
                raw = block[pos:newline]
                if unfinished:
                    raw = b"".join(unfinished) + raw
                    unfinished, pending = [], 0
                yield number, raw.rstrip(b"\r")
                number += 1
                pos = newline + 1
    if unfinished:
        yield number, b"".join(unfinished).rstrip(b"\r")


def _decompressed_blocks(path: Path, f, decompressor, max_expanded: int) -> Iterator[bytes]:
    # A file may hold several frames one after another; a frame cut short is an error, which the
    # streaming reader of zstandard would silently treat as the end of the data.
    frame = decompressor.decompressobj()
    in_frame = False
    offset = 0
    expanded = 0
    while block := f.read(COMPRESSED_BLOCK):
        start, offset = offset, offset + len(block)
        while block:
            try:
                out = frame.decompress(block)
            except zstandard.ZstdError as error:
                raise SourceFormatError(
                    path,
                    f"byte offset {start}",
                    f"bad zstd data in compressed bytes {start}-{offset}: {error}",
                ) from None
            in_frame = True
            if out:
                expanded += len(out)
                if expanded > max_expanded:
                    raise expanded_too_large(path, f"compressed byte offset {start}", max_expanded)
                yield out
            if not frame.eof:
                break
            block = frame.unused_data
            frame = decompressor.decompressobj()
            in_frame = False
    if in_frame:
        raise SourceFormatError(
            path, f"byte offset {offset}", "truncated zstd data: the file ends inside a frame"
        )
