"""An ImportRun from hand-written files: counts per reason, sampling, idempotent re-imports, rescue."""
import hashlib
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from curation.imports.ingest import AlreadyImported, ImportOptionError, rescue_record, start_import
from curation.models import Example, ImportRun, RejectedRecord, Revision, Source
from curation.services import edit_example, review_example
from tests.curation.imports.builders import (
    answer_row,
    lima_rows,
    long_answer,
    qa_rows,
    question_row,
    write_jsonl,
    write_posts,
)

pytestmark = pytest.mark.django_db

# --- Hand-written source files -------------------------------------------------------------------

def import_now(kind, path, **kwargs):
    return start_import(kind, path, run_async=False, **kwargs)


# --- Counts, reasons, attribution ----------------------------------------------------------------

def test_it_imports_stack_exchange_pairs_and_keeps_every_rejection_with_its_reason(tmp_path):
    rows = qa_rows(3) + [
        question_row(20, "Why is the crema pale?"), answer_row(21, 20, score=3),  # below LIMA's score 10
        question_row(22, "Is tea better?"),  # no answer at all
        question_row(24, "How should beans be stored?"), answer_row(25, 24, body="<p>In a jar.</p>"),  # too short
    ]
    path = write_posts(tmp_path / "coffee.stackexchange.com", rows)

    run = import_now("stackexchange", path.parent)

    assert run.status == ImportRun.Status.SUCCEEDED and run.phase == "done" and run.progress == 1.0
    assert run.source.kind == "stackexchange" and run.source.name == "coffee.stackexchange.com"
    assert (run.read_count, run.accepted_count, run.created_count) == (6, 3, 3)
    assert run.rejected_by_reason == {"answer_score_below_10": 1, "no_answer": 1, "answer_too_short": 1}
    assert run.rejected_count == 3
    stored = dict(RejectedRecord.objects.filter(import_run=run).values_list("external_id", "reason"))
    assert stored == {
        "coffee.stackexchange.com/questions/20": "answer_score_below_10",
        "coffee.stackexchange.com/questions/22": "no_answer",
        "coffee.stackexchange.com/questions/24": "answer_too_short",
    }
    example = Example.objects.get(external_id="coffee.stackexchange.com/questions/1")
    assert example.status == "candidate" and example.import_run == run and example.domain == "coffee.stackexchange.com"
    assert example.metadata["url"] == "https://coffee.stackexchange.com/questions/1"
    assert example.metadata["answer_id"] == 2 and example.metadata["licence"] == "CC BY-SA 4.0"
    assert example.conversation[1].startswith("Water just off the boil")
    assert example.revisions.get().note == "imported" and example.revisions.get().author is None


def test_the_counts_add_up_and_the_source_is_reused_by_the_next_import(tmp_path):
    path = write_jsonl(tmp_path / "chats.jsonl", lima_rows(4) + [{"conversations": ["Only a prompt?"], "source": ""}])

    first = import_now("jsonl", path)
    (tmp_path / "later").mkdir()
    second = import_now("jsonl", write_jsonl(tmp_path / "later" / "chats.jsonl", lima_rows(2)))

    assert first.source == second.source and first.source.name == "chats.jsonl"
    assert Source.objects.filter(kind="jsonl").count() == 1
    assert first.read_count == first.accepted_count + first.rejected_count == 5
    assert Example.objects.get(turns__text="Only a prompt?").split == "test"  # a lone prompt is a test prompt


def test_a_name_given_to_a_bare_posts_xml_is_its_site(tmp_path):
    path = write_posts(tmp_path / "upload", qa_rows(1))

    run = import_now("stackexchange", path, name="cooking.stackexchange.com")

    assert run.source.name == "cooking.stackexchange.com"
    assert Example.objects.get().external_id == "cooking.stackexchange.com/questions/1"


def test_reddit_sources_are_named_after_their_subreddits(tmp_path):
    path = tmp_path / "RS.ndjson"
    path.write_text(json.dumps({"id": "abc", "title": "[WP] A door opens", "selftext": "", "subreddit": "WritingPrompts",
                                "score": 50, "author": "x", "created_utc": 1}) + "\n")

    run = import_now("reddit", path)
    other = import_now("reddit", path, options={"subreddits": ["WritingPrompts"]})

    assert run.source.name == "r/WritingPrompts, r/AskReddit"
    assert other.source.name == "r/WritingPrompts"
    assert run.rejected_by_reason == {"no_top_level_comment": 1}


def test_unknown_options_and_missing_files_are_refused_before_anything_is_created(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", lima_rows(1))

    with pytest.raises(ImportOptionError, match="subredits"):
        start_import("jsonl", path, options={"subredits": ["x"]}, run_async=False)
    with pytest.raises(ImportOptionError, match="no such file"):
        start_import("jsonl", tmp_path / "missing.jsonl", run_async=False)
    with pytest.raises(ImportOptionError, match="Unknown source kind"):
        start_import("csv", path, run_async=False)
    with pytest.raises(ImportOptionError, match="target"):
        start_import("jsonl", path, options={"target": -1}, run_async=False)

    assert ImportRun.objects.count() == 0 and Source.objects.count() == 0


# --- Sampling ------------------------------------------------------------------------------------

def test_stack_exchange_draws_its_target_from_each_group_and_keeps_the_rest_as_not_sampled(tmp_path):
    dump = tmp_path / "dump"
    write_posts(dump / "cooking.stackexchange.com", qa_rows(5))
    write_posts(dump / "math.stackexchange.com", qa_rows(4))

    run = import_now("stackexchange", dump, options={"target": 2})

    assert run.source.name == "dump"
    chosen = Example.objects.values_list("domain", "external_id")
    assert sorted(domain for domain, _ in chosen) == ["cooking.stackexchange.com"] * 2 + ["math.stackexchange.com"] * 2
    # Within an exchange, LIMA took the highest-scoring questions: question scores are 1..n here.
    assert {external_id for _, external_id in chosen} == {
        "cooking.stackexchange.com/questions/9", "cooking.stackexchange.com/questions/7",
        "math.stackexchange.com/questions/7", "math.stackexchange.com/questions/5",
    }
    assert run.rejected_by_reason == {"not_sampled": 5}
    assert RejectedRecord.objects.filter(import_run=run, reason="not_sampled").count() == 5
    assert RejectedRecord.objects.filter(reason="not_sampled").first().turns[1].startswith("Water")


def test_the_same_seed_draws_the_same_selection_and_another_seed_another(tmp_path):
    path = write_jsonl(tmp_path / "many.jsonl", lima_rows(30))

    def selection(seed, name):
        run = import_now("jsonl", path, name=name, options={"target": 5, "seed": seed})
        # The second source's picks repeat the first's texts: linked as exact duplicates, not created twice.
        linked = run.rejected_records.filter(reason="exact_duplicate").values_list("external_id", flat=True)
        return set(run.examples.values_list("external_id", flat=True)) | set(linked)

    first, again, other = selection(7, "first"), selection(7, "again"), selection(8, "other")

    assert len(first) == 5 and first == again
    assert other != first


def test_target_all_keeps_every_accepted_record(tmp_path):
    write_posts(tmp_path / "cooking.stackexchange.com", qa_rows(3))

    run = import_now("stackexchange", tmp_path / "cooking.stackexchange.com", options={"target": 0})
    everything = import_now("stackexchange", tmp_path / "cooking.stackexchange.com", options={"target": "all"})

    assert run.accepted_count == 0 and run.rejected_by_reason == {"not_sampled": 3}
    assert everything.accepted_count == everything.created_count == 3


def test_score_only_rejections_are_counted_and_only_a_sample_of_them_stored(tmp_path):
    rows = []
    for n in range(6):
        rows += [question_row(10 + 2 * n, f"Low question {n}?"), answer_row(11 + 2 * n, 10 + 2 * n, score=1)]
    rows += [question_row(40, "Short?"), answer_row(41, 40, body="<p>Short.</p>"),
             question_row(42, "Also short?"), answer_row(43, 42, body="<p>Also short.</p>")]
    path = write_posts(tmp_path / "coffee.stackexchange.com", rows)

    run = import_now("stackexchange", path, options={"rejected_sample": 2})

    assert run.rejected_by_reason == {"answer_score_below_10": 6, "answer_too_short": 2}
    stored = RejectedRecord.objects.filter(import_run=run)
    assert stored.filter(reason="answer_score_below_10").count() == 2  # count-only reason: a sample
    assert stored.filter(reason="answer_too_short").count() == 2  # every other reason: all of them
    assert stored.get(external_id="coffee.stackexchange.com/questions/40").turns[1] == "Short."


# --- Re-imports ----------------------------------------------------------------------------------

def test_reimporting_the_same_content_is_refused_and_creates_nothing(tmp_path):
    path = write_posts(tmp_path / "coffee.stackexchange.com", qa_rows(3))
    first = import_now("stackexchange", path)
    copy = tmp_path / "copy" / "coffee.stackexchange.com" / "Posts.xml"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(path.read_bytes())
    runs, examples = ImportRun.objects.count(), list(Example.objects.values_list("id", "version", "updated_at"))

    for again in (path, copy):  # the same file, a copy elsewhere: the same content
        with pytest.raises(AlreadyImported, match=f"Already imported as run #{first.pk}"):
            start_import("stackexchange", again, run_async=False)

    assert ImportRun.objects.count() == runs and list(Example.objects.values_list("id", "version", "updated_at")) == examples
    assert first.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    # Other options are another import (a rule loosened, another target): it runs.
    assert import_now("stackexchange", path, options={"target": "all"}).status == "succeeded"


def test_reimporting_a_file_with_a_record_more_leaves_the_others_untouched(tmp_path):
    folder = tmp_path / "coffee.stackexchange.com"
    write_posts(folder, qa_rows(3))
    import_now("stackexchange", folder)
    before = list(Example.objects.values_list("id", "version", "updated_at"))
    write_posts(folder, qa_rows(4))

    again = import_now("stackexchange", folder)

    assert (again.created_count, again.updated_count, again.unchanged_count, again.accepted_count) == (1, 0, 3, 4)
    before = before + [Example.objects.values_list("id", "version", "updated_at").last()]
    assert list(Example.objects.values_list("id", "version", "updated_at")) == before
    assert Revision.objects.count() == 4
    assert again.examples.count() == 1  # lineage stays with the run that created them


def test_a_record_that_changed_in_the_file_is_updated_with_a_re_import_revision(tmp_path):
    folder = tmp_path / "coffee.stackexchange.com"
    write_posts(folder, qa_rows(2))
    import_now("stackexchange", folder)
    rows = qa_rows(2)
    rows[1] = answer_row(2, 1, body=long_answer(3, chars=1800))  # the answer was edited on the site
    write_posts(folder, rows)

    run = import_now("stackexchange", folder)

    assert (run.created_count, run.updated_count, run.unchanged_count) == (0, 1, 1)
    example = Example.objects.get(external_id="coffee.stackexchange.com/questions/1")
    latest = example.revisions.order_by("-number").first()
    assert example.version == 2 and latest.note == "re-import" and latest.author is None
    assert latest.turns[1].startswith("Letting the bloom")  # the new text


def test_an_example_a_person_edited_or_reviewed_is_never_overwritten_by_an_import(tmp_path, bob):
    folder = tmp_path / "coffee.stackexchange.com"
    write_posts(folder, qa_rows(3))
    import_now("stackexchange", folder)
    edited = Example.objects.get(external_id="coffee.stackexchange.com/questions/1")
    edit_example(edited, expected_version=edited.version, author=bob, turns=["Bob's prompt?", "Bob's answer."])
    reviewed = Example.objects.get(external_id="coffee.stackexchange.com/questions/3")
    review_example(reviewed, reviewer=bob, decision="needs_edit", comment="Check the numbers.")
    rows = [row.replace("Water just off", "Water well off") for row in qa_rows(3)]  # every answer changed
    write_posts(folder, rows)

    run = import_now("stackexchange", folder)

    assert (run.updated_count, run.protected_count) == (1, 2)
    assert Example.objects.get(pk=edited.pk).conversation == ["Bob's prompt?", "Bob's answer."]
    assert "Water just off" in Example.objects.get(pk=reviewed.pk).conversation[1]
    assert "Water well off" in Example.objects.get(external_id="coffee.stackexchange.com/questions/5").conversation[1]


# --- Rescue --------------------------------------------------------------------------------------

def test_rescue_makes_a_rejected_record_a_candidate_once(tmp_path, bob):
    rows = [question_row(1, "Why is it bitter?"), answer_row(2, 1, body="<p>Over-extraction.</p>")]
    run = import_now("stackexchange", write_posts(tmp_path / "coffee.stackexchange.com", rows))
    record = RejectedRecord.objects.get(import_run=run)
    assert record.reason == "answer_too_short"

    example = rescue_record(record, bob)
    again = rescue_record(record, bob)

    assert again == example and Example.objects.count() == 1
    assert example.status == "candidate" and example.source == run.source and example.import_run == run
    assert example.conversation[1] == "Over-extraction."
    assert example.metadata["rescued_from"] == {"import_run": run.pk, "reason": "answer_too_short"}
    assert example.revisions.get().author == bob
    record.refresh_from_db()
    assert record.rescued_as == example


def test_a_rescued_example_is_not_overwritten_by_the_next_import(tmp_path, bob):
    path = write_jsonl(tmp_path / "chats.jsonl", lima_rows(3))
    run = import_now("jsonl", path, options={"target": 1, "seed": 1})
    record = RejectedRecord.objects.filter(import_run=run, reason="not_sampled").first()
    example = rescue_record(record, bob)

    import_now("jsonl", path, options={"target": "all"})

    assert Example.objects.count() == 3
    assert Example.objects.get(pk=example.pk).version == 1


def test_a_record_with_no_text_cannot_be_rescued(tmp_path, bob):
    run = import_now("stackexchange", write_posts(tmp_path / "coffee.stackexchange.com", [question_row(1, "")]))
    record = RejectedRecord.objects.get(import_run=run)
    assert record.reason == "no_answer" and record.turns == []

    with pytest.raises(ValidationError):
        rescue_record(record, bob)

    assert Example.objects.count() == 0 and RejectedRecord.objects.get().rescued_as is None


def test_the_run_keeps_its_options_and_who_started_it(tmp_path, alice):
    path = write_jsonl(tmp_path / "chats.jsonl", lima_rows(2))

    run = start_import("jsonl", path, options={"seed": 3, "target": 1, "tau": 2.0}, user=alice, run_async=False)

    assert run.options == {"seed": 3, "target": 1, "tau": 2.0}
    assert run.created_by == alice and Path(run.file) == path
    assert run.started_at <= run.finished_at and run.heartbeat_at is not None
