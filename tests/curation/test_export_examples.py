import io
import json

import pytest
from django.core.management import call_command

from curation.models import Source
from curation.services import create_example, get_or_create_source

pytestmark = pytest.mark.django_db


def test_export_examples_writes_lima_rows_filtered_by_status_and_source(tmp_path):
    wikihow = get_or_create_source(Source.Kind.WIKIHOW, "wikiHow")
    create_example(turns=["How to tie a tie?", "Cross the wide end over."], status="approved", source=wikihow)
    create_example(turns=["Q?", "A.", "More?", "Yes."], status="approved")
    create_example(turns=["Draft?", "Not yet."], status="candidate")

    out = io.StringIO()
    call_command("export_examples", "--format", "lima", "--status", "approved", stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows == [
        {"conversations": ["How to tie a tie?", "Cross the wide end over."], "source": "wikihow"},
        {"conversations": ["Q?", "A.", "More?", "Yes."], "source": "manual"},
    ]

    target = tmp_path / "wikihow.jsonl"
    call_command("export_examples", "--source", "wikihow", "--out", str(target), stderr=io.StringIO())
    assert [json.loads(line)["source"] for line in target.read_text().splitlines()] == ["wikihow"]
