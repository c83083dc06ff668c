"""Export formats of a frozen version, streamed in constant memory and deterministic.

Rows are built from plain data (``ExportItem``); the only queries are in ``iter_export_items``, which
walks a version's pinned revisions by example id with a server-side cursor. The same version and
format always give the same bytes: the items never change once frozen, dicts are built in a fixed key
order and JSON is written with fixed separators.

JSONL formats (one object a line): ``lima``, ``openai``, ``sharegpt``, ``alpaca``. Each line also
carries ``id`` (the example's id in this studio), ``split`` and ``attribution`` unless metadata is off.
Binary formats: ``parquet`` (row groups of ``PARQUET_ROWS_PER_GROUP``) and ``hf`` (a Hugging Face
``datasets`` folder written with ``save_to_disk``; over HTTP it travels as a tar archive).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROLES = ("user", "assistant")
SPLITS = ("train", "dev", "test", "unassigned")
# Attribution kept from an example's metadata when present, in this order.
ATTRIBUTION_KEYS = ("url", "author", "score", "licence", "license", "site", "question_id", "task")
CHUNK_BYTES = 64 * 1024  # HTTP chunks: big enough that per-chunk overhead vanishes, small enough to stream
QUERY_CHUNK = 2000


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


# Row builders of the JSONL formats, each (turns, source) -> dict.
FORMATS = {"lima": lima_row, "openai": openai_row, "sharegpt": sharegpt_row, "alpaca": alpaca_row}
BINARY_FORMATS = ("parquet", "hf")
EXPORT_FORMATS = (*FORMATS, *BINARY_FORMATS)
CONTENT_TYPES = {"parquet": "application/vnd.apache.parquet", "hf": "application/x-tar"}
EXTENSIONS = {"parquet": "parquet", "hf": "tar"}


def content_type(fmt):
    return CONTENT_TYPES.get(fmt, "application/x-ndjson; charset=utf-8")


def file_name(version_id, fmt, split=None, directory=False):
    """The name an export is saved under: lima-v3-train.jsonl, lima-v3-all.parquet, lima-v3-all (a folder)."""
    stem = f"lima-v{version_id}-{fmt if fmt in FORMATS else 'all'}-{split or 'all'}"
    if fmt == "hf" and directory:
        return stem
    return f"{stem}.{EXTENSIONS.get(fmt, 'jsonl')}"


@dataclass(frozen=True)
class ExportItem:
    """One conversation of a version as exported: plain data, no model instances."""

    id: int
    split: str
    source: str
    turns: list
    attribution: dict = field(default_factory=dict)


def source_label(kind, metadata):
    """The `source` of LIMA's files. A conversation file (kind "jsonl") only carries examples; the source
    they came from is the label its rows held (LIMA's own "source" field), kept in metadata at import."""
    label = (metadata or {}).get("source")
    if kind == "jsonl" and isinstance(label, str) and label:
        return label
    return kind


def attribution(*, source_name, licence, external_id, revision, metadata):
    found = {"source_name": source_name, "external_id": external_id, "revision": revision}
    if licence:
        found["licence"] = licence
    for key in ATTRIBUTION_KEYS:
        value = (metadata or {}).get(key)
        if value not in (None, "") and key not in found:
            found[key] = value
    return found


def export_row(fmt, item, metadata=True):
    row = FORMATS[fmt](item.turns, item.source)
    if metadata:
        row["id"] = item.id
        row["split"] = item.split
        row["attribution"] = item.attribution
    return row


def iter_jsonl_chunks(items: Iterable[ExportItem], fmt, metadata=True, chunk_bytes=CHUNK_BYTES) -> Iterator[bytes]:
    """UTF-8 JSONL in chunks of about `chunk_bytes`."""
    if fmt not in FORMATS:
        raise ValueError(f"{fmt!r} is not a JSONL format: choose one of {', '.join(FORMATS)}.")
    buffer, size = [], 0
    for item in items:
        line = jsonl_line(export_row(fmt, item, metadata)).encode("utf-8")
        buffer.append(line)
        size += len(line)
        if size >= chunk_bytes:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


# --- The database edge --------------------------------------------------------------------------------

def iter_version_conversations(version, split=None):
    """(item, turns, source_kind) for each item of a frozen version, in a stable order, from pinned revisions."""
    from curation.models import DatasetItem

    items = (
        DatasetItem.objects.filter(version=version).select_related("revision", "example__source").order_by("example_id")
    )
    if split:
        items = items.filter(split=split)
    for item in items.iterator(chunk_size=1000):
        yield item, item.revision.turns, item.example.source.kind


def iter_export_items(version, split=None, chunk_size=QUERY_CHUNK) -> Iterator[ExportItem]:
    """ExportItems of a version by example id (a stable order); tuples rather than model instances, for speed."""
    from curation.models import DatasetItem

    items = DatasetItem.objects.filter(version=version)
    if split:
        items = items.filter(split=split)
    rows = items.order_by("example_id").values_list(
        "example_id", "split", "revision__turns", "revision__number", "example__external_id",
        "example__metadata", "example__source__kind", "example__source__name", "example__source__licence",
    )
    for example_id, item_split, turns, number, external_id, meta, kind, source_name, licence in rows.iterator(
        chunk_size=chunk_size
    ):
        yield ExportItem(
            id=example_id,
            split=item_split,
            source=source_label(kind, meta),
            turns=turns,
            attribution=attribution(
                source_name=source_name, licence=licence, external_id=external_id, revision=number, metadata=meta
            ),
        )


def count_items(version, split=None):
    items = version.items.all()
    return items.filter(split=split).count() if split else items.count()


def iter_export_chunks(version, fmt, split=None, metadata=True) -> Iterator[bytes]:
    """The bytes of an export, for a streaming HTTP response."""
    if fmt in FORMATS:
        yield from iter_jsonl_chunks(iter_export_items(version, split), fmt, metadata)
    elif fmt == "parquet":
        from curation.datasets.formats.parquet import iter_parquet_chunks

        yield from iter_parquet_chunks(iter_export_items(version, split), metadata)
    elif fmt == "hf":
        from curation.datasets.formats.hf import iter_tar_chunks

        with tempfile.TemporaryDirectory(prefix="lima-hf-") as tmp:
            folder = Path(tmp) / file_name(version.pk, fmt, split, directory=True)
            write_hf_folder(version, folder, split=split, metadata=metadata)
            yield from iter_tar_chunks(folder)
    else:
        raise ValueError(f"Unknown export format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}.")


def write_hf_folder(version, folder, split=None, metadata=True, on_row: Callable[[], None] | None = None):
    from curation.datasets.formats.hf import save_hf_folder

    present = [s for s in SPLITS if s in (version.manifest or {}).get("by_split", {})]
    splits = [split] if split else sorted({"train", "dev", "test", *present}, key=SPLITS.index)
    save_hf_folder(
        {name: (lambda name=name: _counted(iter_export_items(version, name), on_row)) for name in splits},
        folder, metadata,
    )


def _counted(items, on_row):
    for item in items:
        if on_row is not None:
            on_row()
        yield item


def write_export(version, fmt, out, split=None, metadata=True, on_progress: Callable[[int], None] | None = None):
    """Write an export to `out` atomically (a file; a folder for `hf`): built beside it, renamed at the end,
    removed on any failure. on_progress(rows_written) is called every few thousand rows. Returns the rows."""
    out = Path(out)
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}.")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"Cannot write {out}: the folder {out.parent} does not exist.")
    rows = 0

    def counted(items):
        nonlocal rows
        for item in items:
            rows += 1
            if on_progress is not None and rows % QUERY_CHUNK == 0:
                on_progress(rows)
            yield item

    partial = out.with_name(f".{out.name}.partial")
    try:
        if fmt == "hf":
            def tick():
                nonlocal rows
                rows += 1
                if on_progress is not None and rows % QUERY_CHUNK == 0:
                    on_progress(rows)

            write_hf_folder(version, partial, split=split, metadata=metadata, on_row=tick)
            if out.exists():
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            os.replace(partial, out)
        else:
            items = counted(iter_export_items(version, split))
            if fmt == "parquet":
                from curation.datasets.formats.parquet import iter_parquet_chunks

                chunks = iter_parquet_chunks(items, metadata)
            else:
                chunks = iter_jsonl_chunks(items, fmt, metadata)
            with open(partial, "wb") as stream:
                for chunk in chunks:
                    stream.write(chunk)
            os.replace(partial, out)
    except BaseException:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        elif partial.exists():
            partial.unlink()
        raise
    if on_progress is not None:
        on_progress(rows)
    return rows
