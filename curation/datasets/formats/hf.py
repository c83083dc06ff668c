"""The `hf` export format: ExportItems -> a Hugging Face `datasets` folder (DatasetDict.save_to_disk), sent over
HTTP as a tar.

Each split is first written as an Arrow stream file with pyarrow, one batch at a time, then opened
memory-mapped with `Dataset.from_file`: nothing holds a whole split in memory.
"""
from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from curation.datasets.formats import ExportFormat, register
from curation.datasets.formats.parquet import _batch, schema

ROWS_PER_BATCH = 2000


def _write_arrow_stream(items: Iterable, path, metadata):
    import pyarrow as pa

    arrow_schema = schema(metadata)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, arrow_schema) as writer:
        rows = []
        for item in items:
            rows.append(item)
            if len(rows) >= ROWS_PER_BATCH:
                writer.write_batch(_batch(rows, metadata, arrow_schema))
                rows = []
        if rows:
            writer.write_batch(_batch(rows, metadata, arrow_schema))


def _file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def save_hf_folder(splits: dict[str, Callable[[], Iterable]], folder, metadata=True):
    """splits maps a split name to a callable giving its items; every split is saved, empty ones too."""
    from datasets import Dataset, DatasetDict, disable_progress_bars

    disable_progress_bars()  # a server and a worker, not a terminal

    folder = Path(folder)
    with tempfile.TemporaryDirectory(prefix="lima-arrow-", dir=folder.parent) as tmp:
        datasets = {}
        for name, items in splits.items():
            path = Path(tmp) / f"{name}.arrow"
            _write_arrow_stream(items(), path, metadata)
            dataset = Dataset.from_file(str(path), in_memory=False)
            # datasets draws a random fingerprint for a file it did not write; derive it from the content
            # instead, so the same version gives the same folder (and HF's cache keys follow content).
            dataset._fingerprint = _file_digest(path)[:16]
            datasets[name] = dataset
        # An empty split still gets one (empty) shard, or load_from_disk could not open it.
        shards = {name: 1 for name, dataset in datasets.items() if len(dataset) == 0}
        DatasetDict(datasets).save_to_disk(str(folder), num_shards=shards or None)


HF = register(ExportFormat(
    name="hf", label="Hugging Face datasets", note="datasets folder (save_to_disk), as .tar",
    content_type="application/x-tar", extension="tar", write_folder=save_hf_folder, file_tag="all", rank=60,
))
