"""manage.py compute_signals and semantic_search."""
import json
from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


def test_compute_here_then_search_as_json(topics):
    summary = json.loads(run("compute_signals", "embedding", "--here", "--json").strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["done"] == summary["total"] == len(topics)

    last = run("semantic_search", "reversing a python list", "--k", "2", "--json").strip().splitlines()[-1]

    results = json.loads(last)["results"]
    assert results[0]["id"] == topics["python"].pk and len(results) == 2
    assert set(results[0]) == {"id", "score"}


def test_the_plain_output_lists_scores_and_first_lines(topics):
    run("compute_signals", "embedding", "--here")

    out = run("semantic_search", "flat tyre", "--k", "1")

    assert f"#{topics['tyre'].pk}" in out and "How do I change a flat tyre" in out
