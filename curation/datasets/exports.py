"""Exports of a frozen version in any registered format (curation.datasets.formats), streamed in constant
memory and deterministic.

Rows are built from plain data (``ExportItem``); the only queries are in ``iter_export_items``, which
walks a version's pinned revisions by example id with a server-side cursor. The same version and
format always give the same bytes: the items never change once frozen, and every format writes them in
a fixed way. A format either streams one file from the items or writes a folder of splits (``hf``; over
HTTP a folder travels as a tar archive).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from curation.datasets.formats import EXPORT_FORMATS, ExportFormat, get_format
from curation.datasets.formats._tar import iter_tar_chunks

SPLITS = ("train", "dev", "test", "unassigned")
# Attribution kept from an example's metadata when present, in this order.
ATTRIBUTION_KEYS = ("url", "author", "score", "licence", "license", "site", "question_id", "task")
QUERY_CHUNK = 2000


def _format(fmt) -> ExportFormat:
    found = get_format(fmt)
    if found is None:
        raise ValueError(f"Unknown export format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}.")
    return found


def content_type(fmt):
    found = get_format(fmt)  # a job's file may outlive the format that wrote it
    return found.content_type if found is not None else "application/octet-stream"


def file_name(version_id, fmt, split=None, directory=False):
    """The name an export is saved under: lima-v3-openai-train.jsonl, lima-v3-all-all.parquet, lima-v3-all-all
    (an hf folder)."""
    found = _format(fmt)
    stem = f"lima-v{version_id}-{found.file_tag or found.name}-{split or 'all'}"
    if found.is_folder and directory:
        return stem
    return f"{stem}.{found.extension}"


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
    """The bytes of an export, for a streaming HTTP response (a folder format as a tar of its folder)."""
    found = _format(fmt)
    if not found.is_folder:
        yield from found.stream(iter_export_items(version, split), metadata)
        return
    with tempfile.TemporaryDirectory(prefix=f"lima-{found.name}-") as tmp:
        folder = Path(tmp) / file_name(version.pk, fmt, split, directory=True)
        write_folder(version, found, folder, split=split, metadata=metadata)
        yield from iter_tar_chunks(folder)


def write_folder(version, fmt: ExportFormat, folder, split=None, metadata=True,
                 on_row: Callable[[], None] | None = None):
    """A folder format gets every split it should hold: the one asked for, else train, dev and test (empty ones
    too, so that a reader finds the usual three) and any other split the version has."""
    present = [s for s in SPLITS if s in (version.manifest or {}).get("by_split", {})]
    splits = [split] if split else sorted({"train", "dev", "test", *present}, key=SPLITS.index)
    fmt.write_folder(
        {name: (lambda name=name: _counted(iter_export_items(version, name), on_row)) for name in splits},
        folder, metadata,
    )


def _counted(items, on_row):
    for item in items:
        if on_row is not None:
            on_row()
        yield item


def write_export(version, fmt, out, split=None, metadata=True, on_progress: Callable[[int], None] | None = None):
    """Write an export to `out` atomically (a file; a folder for a folder format such as `hf`): built beside it,
    renamed at the end, removed on any failure. on_progress(rows_written) is called every few thousand rows.
    Returns the rows."""
    out = Path(out)
    found = _format(fmt)
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
        if found.is_folder:
            def tick():
                nonlocal rows
                rows += 1
                if on_progress is not None and rows % QUERY_CHUNK == 0:
                    on_progress(rows)

            write_folder(version, found, partial, split=split, metadata=metadata, on_row=tick)
            if out.exists():
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            os.replace(partial, out)
        else:
            with open(partial, "wb") as stream:
                for chunk in found.stream(counted(iter_export_items(version, split)), metadata):
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
