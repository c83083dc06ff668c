"""Text PostgreSQL refuses never reaches it: NUL and lone surrogates are removed and counted (or the record is
rejected, IMPORT_BAD_CHARACTERS=reject), NaN and Infinity in metadata become null. On PostgreSQL these failed
the run from inside COPY before."""
import json
from collections import Counter
from pathlib import Path

import pytest

from curation.imports import clean_text
from curation.imports.ingest import start_import
from curation.models import Example, ImportRun, RejectedRecord
from curation.sources.records import Record

pytestmark = pytest.mark.django_db

WIKIHOW = Path(__file__).parents[1] / "fixtures" / "wikihow" / "wikihow_all.csv"


def import_now(kind, path, **kwargs):
    return start_import(kind, path, run_async=False, **kwargs)


def texts_of(run):
    examples = Example.objects.filter(import_run=run)
    rejected = RejectedRecord.objects.filter(import_run=run)
    return ([turn.text for example in examples for turn in example.turns.all()]
            + [turn for record in rejected for turn in record.turns])


def test_a_nul_in_a_wikihow_cell_is_removed_and_counted(tmp_path):
    path = tmp_path / "wikihowAll.csv"
    text = WIKIHOW.read_text(encoding="utf-8")
    at = text.index("\n", text.index("\n") + 1) - 40  # inside the first article's text
    path.write_text(text[:at] + "\x00" + text[at:], encoding="utf-8")

    run = import_now("wikihow", path, options={"target": "all"})

    assert run.status == ImportRun.Status.SUCCEEDED, run.error
    assert run.parser_stats["nul_characters"] == 1
    assert run.parser_stats["records_with_bad_characters"] == 1
    assert any("1 NUL character(s) in 1 record(s) removed (IMPORT_BAD_CHARACTERS=strip)" in w for w in run.warnings)
    assert not any("\x00" in turn for turn in texts_of(run))


def jsonl_with_bad_text(path):
    rows = [
        {"conversations": ["How does a kettle\x00 work?", "It heats water."], "source": "handwritten"},
        {"conversations": ["What is tea?", "A drink \ud800made from leaves."], "source": "handwritten"},
        {"conversations": ["Why is the sky blue?", "Light scatters."], "source": "handwritten", "score": float("nan"),
         "weight": float("inf")},
    ]
    # json.dumps writes NaN, Infinity and "\ud800" as Python's json.loads reads them back.
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_nul_surrogate_and_nan_in_jsonl_are_cleaned_before_postgresql(tmp_path):
    run = import_now("jsonl", jsonl_with_bad_text(tmp_path / "chats.jsonl"))

    assert run.status == ImportRun.Status.SUCCEEDED, run.error
    assert run.created_count == 3
    stats = run.parser_stats
    assert (stats["nul_characters"], stats["lone_surrogates"], stats["non_finite_numbers"]) == (1, 1, 2)
    assert set(texts_of(run)) >= {"How does a kettle work?", "A drink made from leaves."}
    sky = Example.objects.get(import_run=run, metadata__score=None)
    assert sky.metadata["weight"] is None
    assert any("2 NaN or Infinity value(s) in metadata stored as null" in w for w in run.warnings)


def test_reject_mode_turns_such_records_down_with_a_reason(tmp_path, settings):
    settings.IMPORT_BAD_CHARACTERS = "reject"
    run = import_now("jsonl", jsonl_with_bad_text(tmp_path / "chats.jsonl"))

    assert run.status == ImportRun.Status.SUCCEEDED, run.error
    assert run.created_count == 1  # the sky: NaN is no bad character, it becomes null
    assert run.rejected_by_reason == {"bad_characters": 2}
    rejected = RejectedRecord.objects.filter(import_run=run, reason="bad_characters")
    assert rejected.count() == 2  # stored (cleaned), so a person can look and rescue
    assert not any("\x00" in turn for record in rejected for turn in record.turns)


def test_the_run_api_shows_the_counts(tmp_path, alice, client_of):
    run = import_now("jsonl", jsonl_with_bad_text(tmp_path / "chats.jsonl"))
    data = client_of(alice).get(f"/api/imports/{run.pk}/").json()
    assert data["parser_stats"]["nul_characters"] == 1
    assert any("IMPORT_BAD_CHARACTERS=strip" in warning for warning in data["warnings"])


def test_clean_value_reaches_keys_and_deep_values_without_recursion():
    counts = Counter()
    deep = current = []
    for _ in range(5000):
        current.append([])
        current = current[0]
    current.append("a\x00b")
    value = clean_text.clean_value({"k\x00": [float("-inf"), ("x\udfff",)], "deep": deep}, counts)
    assert value["k"] == [None, ["x"]]
    assert counts == Counter(nul_characters=2, lone_surrogates=1, non_finite_numbers=1)
    record = Record("id\x00", ["p"], metadata={"n": float("nan")})
    assert clean_text.clean_record(record, "strip", Counter()) and record.external_id == "id"
