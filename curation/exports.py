"""Rows of the export formats, one JSON object a line, built from plain data (no queries here)."""
import json


def lima_row(turns, source_kind):
    """LIMA's release format: {"conversations": [user, assistant, ...], "source": ...}."""
    return {"conversations": list(turns), "source": source_kind}


def jsonl_line(row):
    """One line of JSONL, deterministic: the same row always gives the same bytes."""
    return json.dumps(row, ensure_ascii=False, sort_keys=False, separators=(", ", ": ")) + "\n"


FORMATS = {"lima": lima_row}


def iter_version_conversations(version, split=None):
    """(item, turns, source_kind) for each item of a frozen version, in a stable order, from pinned revisions."""
    from .models import DatasetItem

    items = DatasetItem.objects.filter(version=version).select_related("revision", "example__source").order_by("pk")
    if split:
        items = items.filter(split=split)
    for item in items.iterator(chunk_size=1000):
        yield item, item.revision.turns, item.example.source.kind
