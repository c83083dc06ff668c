"""The JSONL export formats (one conversation a line): lima, openai, sharegpt, alpaca.

Each row builder takes LIMA's flat list of turns (user first) and the source label; with metadata every line
also carries ``id`` (the example's id in this studio), ``split`` and ``attribution``. Lines are deterministic:
dicts built in a fixed key order, JSON written with fixed separators.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from curation.datasets.formats import ExportFormat, register

ROLES = ("user", "assistant")
CHUNK_BYTES = 64 * 1024  # HTTP chunks: big enough that per-chunk overhead vanishes, small enough to stream
CONTENT_TYPE = "application/x-ndjson; charset=utf-8"


def lima_row(turns, source_kind):
    """LIMA's release format: {"conversations": [user, assistant, ...], "source": ...}."""
    return {"conversations": list(turns), "source": source_kind}


def openai_row(turns, source_kind=None):
    """OpenAI chat fine-tuning: {"messages": [{"role", "content"}, ...]}."""
    return {"messages": [{"role": ROLES[i % 2], "content": text} for i, text in enumerate(turns)]}


def sharegpt_row(turns, source_kind=None):
    """ShareGPT / FastChat: {"conversations": [{"from": "human"|"gpt", "value"}, ...]}."""
    speakers = ("human", "gpt")
    return {"conversations": [{"from": speakers[i % 2], "value": text} for i, text in enumerate(turns)]}


def alpaca_row(turns, source_kind=None):
    """Alpaca is single-turn: the last exchange is instruction/output, earlier ones go to `history` as
    [prompt, response] pairs (LLaMA-Factory's convention). A lone prompt (a test row) has an empty output."""
    turns = list(turns)
    if len(turns) % 2 == 1:
        instruction, output, earlier = turns[-1], "", turns[:-1]
    else:
        instruction, output, earlier = turns[-2], turns[-1], turns[:-2]
    history = [[earlier[i], earlier[i + 1]] for i in range(0, len(earlier), 2)]
    return {"instruction": instruction, "input": "", "output": output, "history": history}


def jsonl_line(row):
    """One line of JSONL, deterministic: the same row always gives the same bytes."""
    return json.dumps(row, ensure_ascii=False, sort_keys=False, separators=(", ", ": ")) + "\n"


def export_row(make_row, item, metadata=True):
    row = make_row(item.turns, item.source)
    if metadata:
        row["id"] = item.id
        row["split"] = item.split
        row["attribution"] = item.attribution
    return row


def iter_jsonl_chunks(items: Iterable, make_row, metadata=True, chunk_bytes=CHUNK_BYTES) -> Iterator[bytes]:
    """UTF-8 JSONL of `make_row`'s rows in chunks of about `chunk_bytes`."""
    buffer, size = [], 0
    for item in items:
        line = jsonl_line(export_row(make_row, item, metadata)).encode("utf-8")
        buffer.append(line)
        size += len(line)
        if size >= chunk_bytes:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


def jsonl_format(name, make_row, *, label, note, rank):
    def stream(items, metadata=True):
        return iter_jsonl_chunks(items, make_row, metadata)

    return register(ExportFormat(
        name=name, label=label, note=note, content_type=CONTENT_TYPE, extension="jsonl", stream=stream,
        row=make_row, rank=rank,
    ))


LIMA = jsonl_format("lima", lima_row, label="LIMA", note="LIMA's release: conversations + source", rank=10)
OPENAI = jsonl_format("openai", openai_row, label="OpenAI", note="Chat fine-tuning: messages with roles", rank=20)
SHAREGPT = jsonl_format("sharegpt", sharegpt_row, label="ShareGPT", note="FastChat: from human / gpt", rank=30)
ALPACA = jsonl_format("alpaca", alpaca_row, label="Alpaca", note="Single turn; earlier turns in history", rank=40)
