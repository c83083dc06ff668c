"""Every real sample in ../shared/data imported through a real Celery worker: counts, reasons, attribution,
and a second import of the same file that changes nothing."""
from collections import Counter

import pytest

from curation.imports import ingest
from curation.imports.ingest import rescue_record, start_import
from curation.models import Example, ImportRun, RejectedRecord, Revision
from tests.curation.imports.builders import import_finished as finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

ASKWOMEN = {"subreddits": ["AskWomen"], "prompt_only_subreddits": ["AskWomen"]}

# (sample, kind, path under ../shared/data, options, source name, rows the README counts)
SAMPLES = [
    ("coffee", "stackexchange", "stackexchange/coffee_2015", {}, "coffee.stackexchange.com", 225),
    ("conlang_meta", "stackexchange", "stackexchange/conlang_meta_2020", {}, "conlang.meta.stackexchange.com", None),
    ("french_meta", "stackexchange", "stackexchange/french_meta_2021", {}, "french.meta.stackexchange.com", None),
    ("three_exchanges", "stackexchange", "stackexchange", {}, "stackexchange", None),
    ("lima_train", "jsonl", "lima/train_1k_fastchat.json", {}, "train_1k_fastchat.json", 1000),
    ("lima_test", "jsonl", "lima/test.jsonl", {}, "test.jsonl", 300),
    ("askwomen_zst", "reddit", "reddit_pushshift/filtered_AskWomen_subset/RS_2019-10.zst", ASKWOMEN, "r/AskWomen", 8271),
    ("askwomen_ndjson", "reddit", "reddit_pushshift/filtered_AskWomen_subset/RS_2019-10.first500.decompressed.ndjson",
     ASKWOMEN, "r/AskWomen", 500),
    ("comments_2005", "reddit", "reddit_pushshift/RC_2005-12.zst", {"subreddits": ["reddit.com"]}, "r/reddit.com", 0),
    ("natural_instructions", "natural_instructions", "super_natural_instructions/legacy_2021_contributor_format", {},
     "Super-NaturalInstructions", 3),
    ("wikihow_steps", "wikihow", "wikihow/wikihow_title_heading_paragraph.csv", {}, "wikiHow", 184),
]


def parser_reasons(kind, path, options):
    """What the pure parser says of the file, to check the run's counts against."""
    parser_options = {key: value for key, value in options.items() if key not in ingest.RUN_OPTIONS}
    return Counter(record.reject_reason for record in ingest.parser_for(kind).iter_records(path, **parser_options))


@pytest.mark.parametrize("sample, kind, relative, options, source_name, rows", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_a_real_sample_imports_through_the_worker_and_once_only(
        celery_worker, shared_data, sample, kind, relative, options, source_name, rows):
    path = shared_data / relative

    run = finished(start_import(kind, path, options=options))

    assert run.status == ImportRun.Status.SUCCEEDED, run.error
    assert run.source.name == source_name and run.phase == "done" and run.progress == 1.0
    if rows is not None:
        assert run.read_count == rows
    assert run.read_count == run.accepted_count + run.rejected_count
    expected = parser_reasons(kind, path, options)
    accepted_by_parser = expected.pop(None, 0)
    not_sampled = run.rejected_by_reason.pop("not_sampled", 0)
    assert run.rejected_by_reason == dict(expected)
    assert run.accepted_count + not_sampled == accepted_by_parser
    assert run.created_count == run.accepted_count == Example.objects.filter(import_run=run).count()
    for reason, count in run.rejected_by_reason.items():
        stored = RejectedRecord.objects.filter(import_run=run, reason=reason).count()
        assert stored == (min(count, ingest.DEFAULT_REJECTED_SAMPLE) if ingest.is_count_only(reason) else count)
    examples_before, revisions_before = Example.objects.count(), Revision.objects.count()

    with pytest.raises(ingest.AlreadyImported, match=f"run #{run.pk}"):
        start_import(kind, path, options=options)

    assert ImportRun.objects.count() == 1
    assert (Example.objects.count(), Revision.objects.count()) == (examples_before, revisions_before)


def test_stack_exchange_examples_keep_their_attribution(celery_worker, shared_data):
    coffee = finished(start_import("stackexchange", shared_data / "stackexchange/coffee_2015"))
    # A meta site is left out by default (meta_site); read as an ordinary one here, for its licences.
    french = finished(start_import("stackexchange", shared_data / "stackexchange/french_meta_2021",
                                   options={"exclude_meta_sites": False}))

    assert coffee.accepted_count > 0 and french.accepted_count > 0
    for example in Example.objects.filter(import_run=coffee):
        meta = example.metadata
        assert example.domain == meta["site"] == "coffee.stackexchange.com"
        assert meta["url"] == f"https://coffee.stackexchange.com/questions/{meta['question_id']}"
        assert meta["answer_id"] and meta["score"] >= 10 and meta["author"]
        assert meta["licence"] == "CC BY-SA 3.0" and meta["licence_inferred"] is True  # the 2015 dump has no ContentLicense
        assert 1200 <= len(example.conversation[1]) <= 4096
    for example in Example.objects.filter(import_run=french):
        assert example.metadata["licence"].startswith("CC BY-SA") and example.metadata["licence_inferred"] is False


def test_lima_files_land_as_single_and_prompt_only_conversations(celery_worker, shared_data):
    train = finished(start_import("jsonl", shared_data / "lima/train_1k_fastchat.json"))
    test = finished(start_import("jsonl", shared_data / "lima/test.jsonl"))

    train_examples = Example.objects.filter(import_run=train)
    assert train_examples.count() == 1000 and not train_examples.filter(turns__text__startswith="Below is an instruction").exists()
    assert set(Example.objects.filter(import_run=test).values_list("split", flat=True)) == {"test"}
    assert all(len(example.conversation) == 1 for example in Example.objects.filter(import_run=test)[:50])


def test_askwomen_titles_become_test_prompts_with_their_links(celery_worker, shared_data):
    run = finished(start_import("reddit", shared_data / "reddit_pushshift/filtered_AskWomen_subset/RS_2019-10.zst",
                                options=ASKWOMEN))

    example = Example.objects.filter(import_run=run).first()
    assert example.split == "test" and len(example.conversation) == 1
    assert example.metadata["url"].startswith("https://www.reddit.com/r/AskWomen/comments/")
    assert example.metadata["subreddit"] == "AskWomen" and example.metadata["score"] >= 10


def test_a_real_rejected_record_is_rescued_into_a_candidate(celery_worker, shared_data, bob):
    run = finished(start_import("natural_instructions", shared_data / "super_natural_instructions/legacy_2021_contributor_format"))
    record = RejectedRecord.objects.filter(import_run=run, reason="not_a_generation_task").first()

    example = rescue_record(record, bob)

    assert example.status == "candidate" and example.source == run.source
    assert len(example.conversation) == 2 and example.domain.startswith("task")
    assert example.metadata["url"].startswith("https://github.com/allenai/natural-instructions/")
