"""Rows of the export formats, one JSON object a line, built from plain data (no queries here)."""
import json


def lima_row(turns, source_kind):
    """LIMA's release format: {"conversations": [user, assistant, ...], "source": ...}."""
    return {"conversations": list(turns), "source": source_kind}


def jsonl_line(row):
    """One line of JSONL, deterministic: the same row always gives the same bytes."""
    return json.dumps(row, ensure_ascii=False, sort_keys=False, separators=(", ", ": ")) + "\n"


FORMATS = {"lima": lima_row}
