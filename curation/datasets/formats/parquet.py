"""The `parquet` export format: ExportItems -> Parquet bytes, one row group at a time, so memory is bounded by
the group size.

Columns: id (int64), split, source, conversations (list<string>, user first) and, with metadata,
attribution (the JSON text of the attribution dict: its keys vary from source to source).
pyarrow is imported when a file is written, not when the format is declared (every process starts faster).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from curation.datasets.formats import ExportFormat, register

ROWS_PER_GROUP = 5000  # ~10 MB of 2 KB conversations in memory at a time


def schema(metadata=True):
    import pyarrow as pa

    fields = [
        pa.field("id", pa.int64()),
        pa.field("split", pa.string()),
        pa.field("source", pa.string()),
        pa.field("conversations", pa.list_(pa.string())),
    ]
    if metadata:
        fields.append(pa.field("attribution", pa.string()))
    return pa.schema(fields)


class _ChunkSink:
    """A write-only file that keeps what it is given until drained: pyarrow writes, the caller streams."""

    def __init__(self):
        self.parts = []
        self.position = 0
        self.closed = False

    def write(self, data):
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self):
        return self.position

    def flush(self):
        pass

    def close(self):
        self.closed = True

    def writable(self):
        return True

    def drain(self):
        data = b"".join(self.parts)
        self.parts = []
        return data


def _batch(rows, metadata, arrow_schema):
    import pyarrow as pa

    columns = {
        "id": [item.id for item in rows],
        "split": [item.split for item in rows],
        "source": [item.source for item in rows],
        "conversations": [list(item.turns) for item in rows],
    }
    if metadata:
        columns["attribution"] = [
            json.dumps(item.attribution, ensure_ascii=False, separators=(",", ":")) for item in rows
        ]
    return pa.RecordBatch.from_pydict(columns, schema=arrow_schema)


def iter_parquet_chunks(items: Iterable, metadata=True, rows_per_group=ROWS_PER_GROUP) -> Iterator[bytes]:
    import pyarrow.parquet as pq

    arrow_schema = schema(metadata)
    sink = _ChunkSink()
    # No statistics or page index with timestamps: the file depends only on the rows (and pyarrow's version).
    writer = pq.ParquetWriter(sink, arrow_schema, compression="zstd", write_statistics=False)
    rows = []
    for item in items:
        rows.append(item)
        if len(rows) >= rows_per_group:
            writer.write_batch(_batch(rows, metadata, arrow_schema), row_group_size=rows_per_group)
            rows = []
            yield sink.drain()
    if rows:
        writer.write_batch(_batch(rows, metadata, arrow_schema), row_group_size=rows_per_group)
    writer.close()
    yield sink.drain()


PARQUET = register(ExportFormat(
    name="parquet", label="Parquet", note="Columns, zstd, row groups of 5,000",
    content_type="application/vnd.apache.parquet", extension="parquet", stream=iter_parquet_chunks,
    file_tag="all", rank=50,
))
