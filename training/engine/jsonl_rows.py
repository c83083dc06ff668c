"""JSONL files of objects, read with errors that name the file and the line.

Shared by the training data, the prompt files of generation and imported responses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def iter_json_objects(path, error: type[Exception] = ValueError, label: str | None = None) -> Iterator[tuple[str, int, dict]]:
    """(where, line number, object) for each non-blank line; `error` names "file:line" for a bad one."""
    path = Path(path)
    label = label or str(path)
    try:
        lines = path.open("rb")  # decoded line by line, so that bytes that are not UTF-8 are named by their line
    except OSError as reason:
        raise error(f"{path}: cannot read it ({reason.strerror or reason})") from None
    with lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{label}:{number}"
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as reason:
                raise error(f"{where}: not UTF-8 text (byte {reason.start + 1} of the line is 0x{line[reason.start]:02x});"
                            " save the file as UTF-8") from None
            try:
                row = json.loads(line)
            except ValueError as reason:
                raise error(f"{where}: not valid JSON ({reason})") from None
            if not isinstance(row, dict):
                raise error(f"{where}: expected a JSON object")
            yield where, number, row
