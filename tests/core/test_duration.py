"""Durations as people read them (core.duration): the one formatter of the pages and the API's `*_text`."""
from datetime import timedelta

import pytest

from core.duration import duration_text, seconds_text


@pytest.mark.parametrize("seconds,text", [
    (0, "0 s"), (0.01, "0 s"), (0.4, "0.4 s"), (2.44, "2.4 s"), (9.9, "9.9 s"), (9.96, "10 s"), (48, "48 s"),
    (59.4, "59 s"), (60, "1 min 00 s"), (159.437879, "2 min 39 s"), (3599.6, "1 h 00 min"), (3840, "1 h 04 min"),
    (86400 + 7200 + 59, "1 d 2 h"), (-5, "0 s"),
])
def test_seconds_read_as_words(seconds, text):
    assert seconds_text(seconds) == text


def test_a_timedelta_reads_the_same_and_never_as_its_repr():
    value = timedelta(minutes=2, seconds=39, microseconds=437879)
    assert str(value) == "0:02:39.437879"  # what a page showed before
    assert duration_text(value) == "2 min 39 s"


@pytest.mark.parametrize("value", [None, "", "soon", True, object()])
def test_what_is_not_a_duration_reads_as_nothing(value):
    assert duration_text(value) == ""


def test_a_finished_job_page_says_how_long_it_took(db, client_of, alice, tmp_path):
    from django.utils import timezone

    from curation.imports.ingest import start_import
    from curation.models import ImportRun
    from tests.curation.imports.builders import write_jsonl

    run = start_import("jsonl", write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Hi", "output": "Hello"}]), user=alice,
                       run_async=False)
    ended = timezone.now()
    ImportRun.objects.filter(pk=run.pk).update(started_at=ended - timedelta(seconds=159.437879), finished_at=ended)

    html = client_of(alice).get(f"/imports/{run.pk}/").content.decode()
    assert "took 2 min 39 s" in html and "0:02:39" not in html
