"""Prompt files in, response files out.

Prompts use LIMA's release format, one object a line:
    {"conversations": ["user text", "assistant text", ..., "user text"], "source": "...", "id": ...}
The id is optional (LIMA's test.jsonl has none): without one, a prompt is known by its 1-based
line number. A conversation that ends with an assistant turn (a training row) is cut before
that turn, so the model answers the last user turn itself.

Responses are written one {"id", "prompt", "response", "model"} a line, where "prompt" is the
user turn that was answered (a multi-turn prompt's earlier turns are in the prompt file, by id).
The file appears whole or not at all: it is written beside its target and renamed over it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from training.engine.jsonl_rows import iter_json_objects


@dataclass(frozen=True)
class Prompt:
    id: object  # the file's "id" (string or number), or the line number
    turns: list[str]  # alternating user / assistant, ending with the user


def read_prompts(path) -> list[Prompt]:
    path = Path(path)
    prompts: list[Prompt] = []
    seen: dict[object, int] = {}
    for where, line_number, row in iter_json_objects(path):
        if "conversations" not in row:
            raise ValueError(f"{where}: expected an object with a 'conversations' field")
        turns = row["conversations"]
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise ValueError(f"{where}: 'conversations' must be a list of strings")
        if len(turns) % 2 == 0:
            turns = turns[:-1]  # ends with the assistant: answer the user turn before it
        if not turns:
            raise ValueError(f"{where}: 'conversations' holds no user turn")
        prompt_id = row.get("id", line_number)
        if not isinstance(prompt_id, (str, int)) or isinstance(prompt_id, bool):
            raise ValueError(f"{where}: 'id' must be a string or an integer, got {prompt_id!r}")
        if prompt_id in seen:
            raise ValueError(f"{where}: id {prompt_id!r} already used on line {seen[prompt_id]}")
        seen[prompt_id] = line_number
        prompts.append(Prompt(prompt_id, turns))
    if not prompts:
        raise ValueError(f"{path}: no prompts")
    return prompts


def write_jsonl_atomically(path, rows: Iterable[dict]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
