"""create_examples_bulk writes exactly the rows create_example writes, in three INSERTs."""
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from curation.models import Example, ImportRun, Revision, Turn
from curation.services import content_hash, create_example, create_examples_bulk, get_or_create_source

pytestmark = pytest.mark.django_db

# Fields that differ between any two examples whatever wrote them.
OWN = {"id", "external_id", "example", "created_at", "updated_at"}

CONVERSATIONS = [
    {"turns": ["How do I descale a kettle?", "Boil equal parts water and white vinegar, then rinse twice."]},
    {
        "turns": [{"role": "user", "text": "Name a prime."}, {"role": "assistant", "content": "7."},
                  {"role": "user", "text": "Another?"}, {"role": "assistant", "text": "11."}],
        "domain": "math.stackexchange.com", "split": "train", "status": "approved", "tags": ("maths", "easy"),
        "metadata": {"score": 12, "url": "https://math.stackexchange.com/questions/7"},
    },
    {"turns": ["A lone test prompt?"], "split": "test"},
]


def rows_of(example):
    """Everything written for one example, without what is its own (ids, times)."""
    example.refresh_from_db()
    return (
        {key: value for key, value in model_to_dict(example).items() if key not in OWN}
        | {"content_hash": example.content_hash, "version": example.version},
        [{k: v for k, v in model_to_dict(turn).items() if k not in OWN}
         for turn in Turn.objects.filter(example=example).order_by("position")],
        [{k: v for k, v in model_to_dict(revision).items() if k not in OWN}
         for revision in Revision.objects.filter(example=example).order_by("number")],
    )


@pytest.mark.parametrize("author_name", [None, "bob"])
def test_bulk_rows_are_field_for_field_those_of_create_example(author_name, bob):
    author = bob if author_name else None
    source = get_or_create_source("jsonl", "chats.jsonl")
    run = ImportRun.objects.create(source=source, file="chats.jsonl")

    singles = [
        create_example(**row, source=source, external_id=f"single-{i}", import_run=run, author=author, note="imported")
        for i, row in enumerate(CONVERSATIONS)
    ]
    bulk = create_examples_bulk(
        [{**row, "external_id": f"bulk-{i}"} for i, row in enumerate(CONVERSATIONS)],
        source=source, import_run=run, author=author, note="imported",
    )

    assert [example.external_id for example in bulk] == ["bulk-0", "bulk-1", "bulk-2"]
    assert all(example.pk for example in bulk)
    for single, made in zip(singles, bulk):
        assert rows_of(made) == rows_of(single)
    # And the rows say what they should, so that two equally wrong writers cannot pass.
    example, turns, revisions = rows_of(bulk[1])
    assert (example["status"], example["split"], example["tags"], example["import_run"]) == (
        "approved", "train", ["maths", "easy"], run.pk)
    assert [(t["position"], t["role"], t["text"]) for t in turns] == [
        (0, "user", "Name a prime."), (1, "assistant", "7."), (2, "user", "Another?"), (3, "assistant", "11.")]
    assert [(r["number"], r["note"], r["turns"], r["author"]) for r in revisions] == [
        (1, "imported", ["Name a prime.", "7.", "Another?", "11."], bob.pk if author else None)]
    assert example["content_hash"] == content_hash(["Name a prime.", "7.", "Another?", "11."])


def test_defaults_are_create_examples(bob):
    source = get_or_create_source("jsonl", "defaults.jsonl")
    (made,) = create_examples_bulk([{"turns": ["Q?", "A."]}], source=source)
    single = create_example(turns=["Q?", "A."], source=source)

    assert rows_of(made)[0] | {"version": 1} == rows_of(single)[0] | {"version": 1}
    assert len(made.external_id) == 32 and made.external_id != single.external_id  # a fresh id each
    assert made.revisions.get().note == "imported" and single.revisions.get().note == "created"


def test_it_writes_a_batch_in_three_inserts_and_indexes_it_in_a_few_statements():
    def statements(count, name):
        source = get_or_create_source("jsonl", name)
        rows = [{"turns": [f"Question {i}?", f"Answer {i}."], "external_id": str(i)} for i in range(count)]
        with CaptureQueriesContext(connection) as queries:
            create_examples_bulk(rows, source=source)
        # executemany is logged as "N times: INSERT …": one statement too.
        return [re.sub(r"^\d+ times: ", "", q["sql"].lstrip()) for q in queries.captured_queries]

    # (Both batches stay under SQLite's 999 parameters a statement, past which Django splits an INSERT.)
    small, large = statements(50, "many.jsonl"), statements(60, "more.jsonl")

    tables = [re.search(r'INSERT INTO "?(\w+)', sql).group(1) for sql in small if sql.upper().startswith("INSERT")]
    assert tables[:3] == ["curation_example", "curation_turn", "curation_revision"]
    # Then the examples table's summaries and search entries (curation.workspace.search.index_examples).
    assert set(tables[3:]) <= {"curation_examplesummary", "curation_examplesearch"} and tables[3:]
    assert len(large) == len(small)  # as many statements for 60 examples as for 50
    assert Example.objects.filter(source__name="many.jsonl").count() == 50
    assert Turn.objects.filter(example__source__name="many.jsonl").count() == 100
    assert Revision.objects.filter(example__source__name="many.jsonl", number=1).count() == 50


def test_one_broken_conversation_refuses_the_whole_batch():
    source = get_or_create_source("jsonl", "broken.jsonl")
    rows = [{"turns": ["Fine?", "Yes."], "external_id": "a"}, {"turns": ["Q", "A", "No answer"], "external_id": "b"}]

    with pytest.raises(ValidationError, match="must end with the assistant"):
        create_examples_bulk(rows, source=source)
    assert not Example.objects.filter(source=source).exists()


def test_an_unknown_key_is_refused_by_name():
    source = get_or_create_source("jsonl", "typo.jsonl")
    with pytest.raises(TypeError, match="unknown key.*domian"):
        create_examples_bulk([{"turns": ["Q?", "A."], "domian": "x"}], source=source)
    assert not Example.objects.filter(source=source).exists()
