"""Freezing dataset versions: pinned revisions, manifest, content hash, refusals, contamination, diff, CLI, pages."""
import io
import json
import re
from html import unescape as html_unescape
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from curation.datasets.exports import iter_export_items, write_export
from curation.datasets.versions import (
    DuplicateTrainExamples,
    FreezeError,
    Selection,
    check_selection,
    content_hash_of,
    diff_versions,
    freeze_version,
    version_hash,
)
from curation.models import DatasetItem, DatasetVersion, Example, Source
from curation.services import create_example, edit_example, get_or_create_source, review_example
from curation.sources import jsonl

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datasets"
LEAKED = (
    "Explain, as you would to a ten year old, how vaccines teach the body to fight an illness "
    "and why some need a booster."
)


def make(turns, split="train", status="approved", **fields):
    return create_example(turns=turns, split=split, status=status, **fields)


def exported_prompts(version):
    return [item.turns[0] for item in iter_export_items(version)]


def test_freezing_pins_revisions_so_later_edits_do_not_change_the_version(alice):
    # given
    example = make(["What is a roux?", "Flour cooked in fat."])
    version = freeze_version("v1", author=alice).version
    # when
    edit_example(example, expected_version=example.version, author=alice, turns=["What is a roux?", "Changed."])
    # then
    assert [item.turns for item in iter_export_items(version)] == [["What is a roux?", "Flour cooked in fat."]]
    assert version_hash(version) == version.content_hash
    assert freeze_version("v2").version.content_hash != version.content_hash


def test_the_default_selection_is_every_approved_example():
    approved = make(["Approved?", "Yes."])
    make(["Candidate?", "Not yet."], status="candidate")
    make(["Rejected?", "No."], status="rejected")
    version = freeze_version("approved only").version
    assert list(version.items.values_list("example_id", flat=True)) == [approved.pk]
    assert version.status == DatasetVersion.Status.READY
    assert version.selection["status"] == "approved"


def test_the_manifest_counts_sources_domains_splits_and_lengths():
    wikihow = get_or_create_source(Source.Kind.WIKIHOW, "wikiHow")
    make(["How to boil an egg?", "a" * 400], source=wikihow, domain="Food")
    make(["How to tie a tie?", "b" * 800], source=wikihow, domain="Style")
    make(["Q1?", "c" * 40, "Q2?", "d" * 40], domain="Food")
    make(["Only a prompt for testing"], split="test")

    manifest = freeze_version("m").version.manifest

    assert manifest["examples"] == 4
    assert manifest["by_split"] == {"train": 3, "test": 1}
    assert manifest["by_source"] == {"manual": 2, "wikihow": 2}
    assert manifest["by_domain"] == {"Food": 2, "(none)": 1, "Style": 1}
    assert manifest["by_turns"] == {"1": 1, "2": 2, "4": 1}
    assert manifest["chars"]["response"] == {"total": 1280, "mean": 320.0, "max": 800}
    # tokens are estimated at four characters each, rounded up per turn
    assert manifest["tokens"]["response"]["total"] == 100 + 200 + 10 + 10
    wikihow_row = next(row for row in manifest["sources"] if row["source"] == "wikihow")
    assert wikihow_row == {"source": "wikihow", "examples": 2, "avg_prompt_tokens": 5.0, "avg_response_tokens": 150.0}
    assert sum(bucket["examples"] for bucket in manifest["length_histogram"]) == 4


def test_the_hash_depends_on_content_only_not_on_ids_or_creation_order():
    first = make(["A?", "a."])
    second = make(["B?", "b."], split="dev")
    one = freeze_version("one").version

    DatasetVersion.objects.all().delete()
    Example.objects.filter(pk__in=[first.pk, second.pk]).delete()
    make(["B?", "b."], split="dev")
    make(["A?", "a."])
    two = freeze_version("two").version

    assert one.content_hash == two.content_hash
    assert one.content_hash == content_hash_of([("dev", "manual", ["B?", "b."]), ("train", "manual", ["A?", "a."])])


def test_the_hash_changes_with_the_turns_or_the_split(alice):
    example = make(["A?", "a."])
    before = freeze_version("before").version.content_hash
    example = edit_example(example, expected_version=example.version, author=alice, split="dev")
    moved = freeze_version("moved").version.content_hash
    edit_example(example, expected_version=example.version, author=alice, turns=["A?", "a!"])
    edited = freeze_version("edited").version.content_hash
    assert len({before, moved, edited}) == 3


def test_exact_duplicates_in_train_are_refused_naming_them_and_nothing_is_written():
    one = make(["Same?", "Same."])
    two = make(["Same?", "Same."])
    make(["Same?", "Same."], split="dev")  # a duplicate outside train is a contamination warning, not a refusal
    make(["Other?", "Other."])

    with pytest.raises(DuplicateTrainExamples) as refused:
        freeze_version("dupes")

    assert refused.value.groups == [[one.pk, two.pk]]
    assert f"#{one.pk} = #{two.pk}" in str(refused.value)
    assert DatasetVersion.objects.count() == 0 and DatasetItem.objects.count() == 0


def test_a_planted_overlap_comes_back_as_warnings_and_stays_in_the_manifest():
    # given: a test prompt quoted inside a train answer (a dev prompt asked again in train is a near-duplicate,
    # which the freeze refuses: tests/curation/dedupe/test_freeze_check.py)
    leaky = make(["Tell me about vaccines.", f"A parent once asked me: {LEAKED} Here is how I answered."])
    quoted = make([LEAKED], split="test")
    make(["An unrelated question about knitting?", "Cast on forty stitches."])

    # when
    frozen = freeze_version("leaky")

    # then
    pairs = {(o.eval_key, o.train_key, o.kind) for o in frozen.overlaps}
    assert pairs == {(quoted.pk, leaky.pk, "near")}
    recorded = frozen.version.manifest["contamination"]
    assert recorded["count"] == 1
    near = next(pair for pair in recorded["pairs"] if pair["kind"] == "near")
    assert near["eval_prompt"] == LEAKED and near["train_prompt"] == "Tell me about vaccines."
    assert near["ratio"] == 1.0


def test_the_check_reports_what_freezing_would_meet_without_writing_anything():
    make(["Same?", "Same."])
    make(["Same?", "Same."])
    make(["same", "Different answer."], split="test")
    report = check_selection(Selection())
    assert report.examples == 3 and report.by_split == {"train": 2, "test": 1}
    assert len(report.duplicates) == 1 and not report.can_freeze
    assert [o.kind for o in report.overlaps] == ["exact", "exact"]
    assert DatasetVersion.objects.count() == 0


def test_the_selection_filters_by_source_domain_split_tags_and_status():
    wikihow = get_or_create_source(Source.Kind.WIKIHOW, "wikiHow")
    a = make(["How to knit?", "Loop."], source=wikihow, domain="Hobbies", tags=["craft"])
    b = make(["How to sew?", "Stitch."], source=wikihow, domain="Hobbies", split="dev")
    c = make(["What is 2+2?", "4."], domain="Maths", tags=["easy", "craft"])
    d = make(["Draft?", "Draft."], status="candidate", tags=["craft"])

    def frozen_ids(**selection):
        version = freeze_version("s", selection=Selection.from_dict(selection)).version
        return sorted(version.items.values_list("example_id", flat=True))

    assert frozen_ids(sources=["wikihow"]) == [a.pk, b.pk]
    assert frozen_ids(sources=[str(wikihow.pk)], splits=["dev"]) == [b.pk]
    assert frozen_ids(domains=["Maths"]) == [c.pk]
    assert frozen_ids(tags=["craft"]) == [a.pk, c.pk]
    assert frozen_ids(tags=["craft"], status="any") == [a.pk, c.pk, d.pk]


def test_bad_selections_and_empty_ones_are_refused_naming_the_field():
    with pytest.raises(FreezeError) as unknown:
        Selection.from_dict({"colour": "red"})
    assert unknown.value.field == "colour"
    with pytest.raises(FreezeError) as bad_split:
        Selection.from_dict({"splits": ["validation"]})
    assert bad_split.value.field == "splits" and "validation" in str(bad_split.value)
    with pytest.raises(FreezeError) as bad_source:
        Selection.from_dict({"sources": ["wikihow", str(10**25)]})
    assert bad_source.value.field == "sources" and str(10**25) in str(bad_source.value)
    with pytest.raises(FreezeError, match="no examples"):
        freeze_version("empty")
    make(["Q?", "A."], tags=["here"])
    with pytest.raises(FreezeError, match="no examples"):  # found by schemathesis: no example has the tag
        freeze_version("no such tag", selection=Selection(tags=("elsewhere",)))
    with pytest.raises(FreezeError) as nameless:
        freeze_version("  ")
    assert nameless.value.field == "name"


def test_the_diff_lists_added_removed_and_changed_examples(alice):
    kept = make(["Kept?", "Kept."])
    edited = make(["Edited?", "Before."])
    moved = make(["Moved?", "Moved."])
    removed = make(["Removed?", "Removed."])
    restatused = make(["Status only?", "Same content."])
    old = freeze_version("old").version

    edit_example(edited, expected_version=edited.version, author=alice, turns=["Edited?", "After."])
    edit_example(moved, expected_version=moved.version, author=alice, split="dev")
    edit_example(removed, expected_version=removed.version, author=alice, status="rejected")
    review_example(restatused, reviewer=alice, decision="approve", comment="fine")  # no new revision
    restatused = edit_example(restatused, expected_version=restatused.version, author=alice, tags=["checked"])
    added = make(["Added?", "Added."])
    new = freeze_version("new").version

    diff = diff_versions(old, new)
    assert diff.added == [added.pk]
    assert diff.removed == [removed.pk]
    assert diff.changed == [(edited.pk, 1, 2, ["turns"]), (moved.pk, 1, 2, ["split"])]
    assert diff.unchanged == 2  # kept, and restatused whose new revision holds the same content
    assert kept.pk not in diff.added


def test_freeze_dataset_command_ends_with_one_json_line():
    make(["A?", "a."])
    make(["B?", "b."], split="test")
    make(["C?", "c."], status="candidate")
    out, err = io.StringIO(), io.StringIO()

    call_command("freeze_dataset", "release-1", "--json", stdout=out, stderr=err)

    last = json.loads(out.getvalue().strip().splitlines()[-1])
    version = DatasetVersion.objects.get(pk=last["id"])
    assert last == {"id": version.pk, "hash": version.content_hash, "examples": 2}
    assert version.name == "release-1"

    call_command("freeze_dataset", "everything", "--status", "any", "--json", stdout=out)
    assert json.loads(out.getvalue().strip().splitlines()[-1])["examples"] == 3


def test_freeze_dataset_command_refuses_duplicates_with_a_clear_error():
    one, two = make(["Same?", "Same."]), make(["Same?", "Same."])
    with pytest.raises(CommandError, match=f"#{one.pk} = #{two.pk}"):
        call_command("freeze_dataset", "dupes", stdout=io.StringIO())


def _import_lima_file(path, split):
    """Conversation-file import, as the import pipeline does it: the LIMA parser, then services."""
    source = get_or_create_source(Source.Kind.JSONL, path.name)
    for record in jsonl.iter_records(path, split=split, prompt_only_split=split):
        assert record.accepted, record.reject_reason
        create_example(
            turns=record.turns, source=source, external_id=record.external_id, domain=record.domain,
            split=record.split, status="approved", metadata=record.metadata,
        )


def test_round_trip_import_freeze_export_reimport_freeze_gives_the_same_hash(tmp_path):
    # given: LIMA's release files imported and frozen
    _import_lima_file(FIXTURES / "lima_train.jsonl", "train")
    _import_lima_file(FIXTURES / "lima_test.jsonl", "test")
    first = freeze_version("imported").version
    assert first.manifest["by_split"] == {"train": 5, "test": 2}
    assert first.manifest["by_source"]["stackexchange"] == 1  # the rows' own "source", not "jsonl"

    # when: exported as lima per split, then imported into an emptied database and frozen again
    for split in ("train", "test"):
        write_export(first, "lima", tmp_path / f"{split}.jsonl", split=split)
    DatasetVersion.objects.all().delete()
    Example.objects.all().delete()
    Source.objects.all().delete()
    _import_lima_file(tmp_path / "train.jsonl", "train")
    _import_lima_file(tmp_path / "test.jsonl", "test")
    second = freeze_version("re-imported").version

    # then
    assert second.content_hash == first.content_hash
    assert second.example_count == 7


# --- Pages ------------------------------------------------------------------------------------------------

def test_the_datasets_page_is_for_people_with_a_role_and_the_freeze_form_for_admins(client, client_of, alice, bob, charlie):
    make(["Q?", "A."])
    freeze_version("first release")
    assert client.get("/datasets/").status_code == 302  # to the login page
    assert client_of(charlie).get("/datasets/").status_code == 403
    as_bob = client_of(bob).get("/datasets/")
    assert as_bob.status_code == 200 and b"first release" in as_bob.content and b"Freeze a version" not in as_bob.content
    as_alice = client_of(alice).get("/datasets/")
    assert b"Freeze a version" in as_alice.content and b'hx-post="/datasets/check/"' in as_alice.content


def test_the_check_preview_shows_duplicates_and_contaminated_pairs(client_of, alice, bob):
    one, two = make(["Same?", "Same."]), make(["Same?", "Same."])
    leak = make([LEAKED], split="test")
    page = client_of(alice).post("/datasets/check/", {"status": "approved"}, HTTP_HX_REQUEST="true")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Cannot freeze yet" in html and f'href="/examples/{one.pk}/">#{one.pk}</a> = <a href="/examples/{two.pk}/"' in html
    assert f"#{leak.pk}" not in html  # no overlap yet: the leaked prompt is nowhere in train
    make(["Vaccines?", f"My kid asked: {LEAKED}"])
    html = client_of(alice).post("/datasets/check/", {"status": "approved"}).content.decode()
    assert f'href="/examples/{leak.pk}/"' in html and "13-grams" in html
    assert client_of(bob).post("/datasets/check/", {"status": "approved"}).status_code == 403


def test_freezing_from_the_page_redirects_to_the_version_or_explains_the_refusal(client_of, alice):
    one, two = make(["Same?", "Same."]), make(["Same?", "Same."])
    admin = client_of(alice)
    refused = admin.post("/datasets/freeze/", {"name": "v1", "status": "approved"})
    assert refused.status_code == 400 and f"#{one.pk} = #{two.pk}".encode() in refused.content
    assert DatasetVersion.objects.count() == 0

    frozen = admin.post("/datasets/freeze/", {"name": "v1", "status": "approved", "splits": ["dev", "test"],
                                              "tags": ""})
    assert frozen.status_code == 400  # nothing in dev or test: named, not frozen
    make(["Dev?", "Dev."], split="dev")
    frozen = admin.post("/datasets/freeze/", {"name": "dev only", "status": "approved", "splits": ["dev"]})
    version = DatasetVersion.objects.get()
    assert frozen.status_code == 302 and frozen["Location"] == f"/datasets/{version.pk}/"
    assert version.selection["splits"] == ["dev"] and version.created_by == alice


def test_the_version_page_shows_the_manifest_charts_and_working_export_links(client_of, bob):
    make(["How to knit?", "Loop the yarn."], domain="Hobbies")
    make(["A test prompt"], split="test")
    version = freeze_version("v1").version
    page = client_of(bob).get(f"/datasets/{version.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert version.content_hash in html
    assert html.count('<svg class="chart') == 4 and "Hobbies" in html
    links = re.findall(r'href="(/api/datasets/\d+/export/\?[^"]+)"', html)
    assert len(links) == 6 * 3  # every format, for all / train / test
    assert f"/api/datasets/{version.pk}/export/?format=alpaca&amp;split=test" in html
    exported = client_of(bob).get(html_unescape(links[0]))
    assert exported.status_code == 200 and b"".join(exported.streaming_content).count(b"\n") == 2
    assert "Export to a file" not in html  # background exports are the admins'


def test_admins_start_background_exports_from_the_version_page(client_of, alice, bob):
    make(["Q?", "A."])
    version = freeze_version("v1").version
    started = client_of(alice).post(f"/datasets/{version.pk}/exports/", {"format": "parquet", "split": "train",
                                                                         "metadata": "on"})
    assert started.status_code == 200 and b"queued" in started.content and b'hx-trigger="every 2s"' in started.content
    job = version.export_jobs.get()
    assert (job.format, job.split, job.metadata, job.total) == ("parquet", "train", True, 1)
    refused = client_of(alice).post(f"/datasets/{version.pk}/exports/", {"format": "csv"})
    assert refused.status_code == 400 and b"Unknown format" in refused.content
    assert client_of(bob).post(f"/datasets/{version.pk}/exports/", {"format": "lima"}).status_code == 403
    assert client_of(bob).get(f"/datasets/{version.pk}/exports/").status_code == 200


def test_the_diff_page_lists_what_was_added_removed_and_changed(client_of, alice, bob):
    edited = make(["Edited prompt?", "Before."])
    removed = make(["Removed prompt?", "Gone."])
    old = freeze_version("old").version
    edit_example(edited, expected_version=1, author=alice, turns=["Edited prompt?", "After, and better."])
    edit_example(removed, expected_version=1, author=alice, status="rejected")
    added = make(["Added prompt?", "New."])
    new = freeze_version("new").version

    compare = client_of(bob).get(f"/datasets/{old.pk}/compare/?other={new.pk}")
    assert compare["Location"] == f"/datasets/{old.pk}/diff/{new.pk}/"
    html = client_of(bob).get(compare["Location"]).content.decode()
    assert "Added prompt?" in html and f'href="/examples/{added.pk}/"' in html
    assert "Removed prompt?" in html
    assert "r1 → r2" in html and "turn 2 (assistant)" in html
    assert "Before." in html and "After, and better." in html


def test_bar_charts_rank_categories_and_fold_the_tail_into_others():
    from core.charts.hbars import hbar_chart, histogram

    chart = hbar_chart({"a": 1, "b": 10, "c": 5, "d": 2, "e": 2}, limit=3)
    assert [(bar.label, bar.count) for bar in chart.bars] == [("b", 10), ("c", 5), ("3 others", 5)]
    assert chart.bars[0].width == 220 and chart.bars[1].width == 110 and chart.hidden == 3
    columns = histogram([{"up_to_tokens": 64, "examples": 1}, {"up_to_tokens": 256, "examples": 4}]).columns
    assert [column.label for column in columns] == ["≤64", "≤128", "≤256"]
    assert columns[2].height == 4 * columns[0].height and columns[1].height == 0


def test_a_configured_tokenizer_counts_the_manifest_tokens(settings, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    # given: a word-level tokenizer, saved the way any Hugging Face tokenizer.json is
    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "how": 1, "to": 2, "knit": 3}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    settings.DATASET_TOKENIZER = str(tmp_path)
    make(["How to knit ?", "Loop the yarn twice"])

    tokens = freeze_version("counted").version.manifest["tokens"]

    assert tokens["method"] == "tokenizer: " + tmp_path.name
    assert (tokens["prompt"]["total"], tokens["response"]["total"]) == (4, 4)
