"""The demo dataset that `bootstrap --demo` loads: hand-written examples in LIMA's tone."""
import json
from pathlib import Path

from curation.models import Example, Source
from curation.services import create_example, get_or_create_source

DEMO_FILE = Path(__file__).resolve().parent / "demo" / "demo_examples.jsonl"


def demo_source():
    return get_or_create_source(
        Source.Kind.MANUAL, "LIMA Studio demo", licence="CC BY-NC-SA 4.0",
    )


def load_demo_dataset(path=DEMO_FILE, author=None):
    """Create the demo examples that are not there yet; returns (created, already_there)."""
    source = demo_source()
    existing = set(Example.objects.filter(source=source).values_list("external_id", flat=True))
    created = 0
    with open(path, encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["id"] in existing:
                continue
            create_example(
                source=source,
                external_id=row["id"],
                turns=row["conversations"],
                domain=row.get("domain", ""),
                split=row.get("split", Example.Split.UNASSIGNED),
                status=row.get("status", Example.Status.CANDIDATE),
                tags=row.get("tags", []),
                metadata={"author": "LIMA Studio team", "licence": source.licence, "line": line_number},
                author=author,
                note="demo data",
            )
            created += 1
    return created, len(existing)
