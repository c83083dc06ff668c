"""Line-numbered reading of NDJSON files, plain or zstd-compressed, in constant memory.

Pushshift's monthly dumps are single zstd frames written with a 2 GiB window (``zstd --long=31``),
so the decompressor must be allowed that window. The compressed bytes are fed in small blocks
and split into lines as they come out: nothing but the current block and the current line is
held. A file is treated as zstd when it starts with the zstd magic number, whatever its name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import zstandard

from curation.sources.records import SourceFormatError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Pushshift dumps need a 2 GiB window (zstd --long=31).
ZSTD_MAX_WINDOW = 2**31
# Small, so that what one block decompresses to stays small (Pushshift JSON compresses ~10-20x)
# and the offset reported on a bad frame is close to the damage.
COMPRESSED_BLOCK = 16 * 1024


def is_zstd(path: Path | str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == ZSTD_MAGIC


def iter_lines(path: Path | str) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for every non-blank line, numbered from 1.

    Raises SourceFormatError naming the file and the line (bad UTF-8) or the compressed byte
    offset (bad or truncated zstd data).
    """
    path = Path(path)
    byte_lines = _zstd_byte_lines(path) if is_zstd(path) else _plain_byte_lines(path)
    for number, raw in enumerate(byte_lines, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SourceFormatError(path, f"line {number}", f"not UTF-8 text: {error}") from None
        if text.strip():
            yield number, text


def parse_json_line(path: Path | str, number: int, text: str):
    """Parse one NDJSON line, or raise SourceFormatError naming the file, line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SourceFormatError(
            path, f"line {number}", f"invalid JSON at column {error.colno}: {error.msg}"
        ) from None


def iter_json_lines(path: Path | str) -> Iterator[tuple[int, object]]:
    """Yield ``(line_number, parsed_value)`` for every non-blank line of an NDJSON file."""
    for number, text in iter_lines(path):
        yield number, parse_json_line(path, number, text)


def _plain_byte_lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for raw in f:
            yield raw.rstrip(b"\r\n")


def _zstd_byte_lines(path: Path) -> Iterator[bytes]:
    decompressor = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    unfinished: list[bytes] = []  # pieces of a line that spans blocks
    with open(path, "rb") as f:
        for block in _decompressed_blocks(path, f, decompressor):
            lines = block.split(b"\n")
            if len(lines) == 1:
                unfinished.append(block)
                continue
            lines[0] = b"".join(unfinished) + lines[0]
            unfinished = [lines.pop()]
            for raw in lines:
                yield raw.rstrip(b"\r")
    last = b"".join(unfinished)
    if last:
        yield last.rstrip(b"\r")


def _decompressed_blocks(path: Path, f, decompressor) -> Iterator[bytes]:
    # A file may hold several frames one after another; a frame cut short is an error, which the
    # streaming reader of zstandard would silently treat as the end of the data.
    frame = decompressor.decompressobj()
    in_frame = False
    offset = 0
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
