"""The freeze check refuses near-duplicates inside train and between train and dev/test, each with a link to
resolve it; /duplicates/ lists clusters and keeps one of each (a review and a revision for the others); the
example page, the table and the review queue show them; the command prints the clusters as JSON."""
import html
import io
import json
import re

import pytest
from django.core.management import call_command

from core.jobs.runner import run_here
from curation.datasets.versions import NearDuplicateExamples, Selection, check_selection, freeze_version
from curation.dedupe import index
from curation.dedupe.jobs import start_dedupe
from curation.dedupe.models import DedupeRun, DuplicateCluster
from curation.models import DatasetVersion, Example, Review
from curation.services import create_example
from tests.curation.dedupe.texts import BREAD, COFFEE, GIT, ORBIT, PLANTS, sentence_appended, spaced

pytestmark = pytest.mark.django_db


def make(prompt, response, split="train", status="approved"):
    return create_example(turns=[prompt, response], split=split, status=status)


def test_the_freeze_refuses_one_answer_under_two_prompts_in_train(client_of, alice):
    make(*BREAD)
    first = make(COFFEE[0], COFFEE[1])
    second = make("What is the right steeping time for a cafetière?", COFFEE[1])  # another prompt, the same answer

    report = check_selection(Selection(status="approved"))

    assert not report.duplicates  # not the same conversation: the old check passed it
    assert not report.can_freeze
    assert [(p["a"], p["b"], p["kind"]) for p in report.near_duplicates] == [(first.pk, second.pk, "response")]
    assert report.near_duplicates[0]["resolve"] == f"/duplicates/group/?ids={first.pk},{second.pk}"
    with pytest.raises(NearDuplicateExamples, match=f"#{first.pk} \\(train\\) ~ #{second.pk} \\(train\\)"):
        freeze_version("twice")
    assert DatasetVersion.objects.count() == 0
    page = html.unescape(client_of(alice).post("/datasets/check/", {"status": "approved"}).content.decode())
    assert "Cannot freeze yet" in page and "near-duplicate pair" in page
    assert f'href="/duplicates/group/?ids={first.pk},{second.pk}"' in page


def test_the_freeze_refuses_near_duplicates_across_splits_but_not_between_dev_and_test():
    train = make(*ORBIT)
    dev = make(spaced(ORBIT[0]), sentence_appended(ORBIT[1]), split="dev")
    make(*GIT, split="dev")
    make(GIT[0], spaced(GIT[1]), split="test")  # dev ~ test: nothing is trained on either

    report = check_selection(Selection(status="approved"))

    assert {(p["a"], p["a_split"], p["b"], p["b_split"]) for p in report.near_duplicates} == {
        (train.pk, "train", dev.pk, "dev")}
    assert {p["kind"] for p in report.near_duplicates} == {"prompt", "response"}
    with pytest.raises(NearDuplicateExamples):
        freeze_version("leaky")


def test_once_resolved_the_selection_freezes(client_of, alice):
    keep = make(*PLANTS)
    other = make(PLANTS[0], sentence_appended(PLANTS[1]))
    client_of(alice).post("/duplicates/resolve/", {"keep": keep.pk, "members": [f"{keep.pk}:1", f"{other.pk}:1"]})

    version = freeze_version("clean", selection=Selection(status="approved")).version

    assert version.example_count == 1 and version.items.get().example_id == keep.pk


def test_the_page_lists_clusters_and_keeps_one_rejecting_the_others(client_of, alice, bob):
    keep = make(*COFFEE, status="candidate")
    others = [make(spaced(COFFEE[0]), COFFEE[1], status="candidate"),
              make(COFFEE[0], sentence_appended(COFFEE[1]), status="candidate")]
    unrelated = make(*BREAD, status="candidate")
    index.refresh()
    cluster = DuplicateCluster.objects.get()

    client = client_of(bob)
    page = html.unescape(client.get("/duplicates/").content.decode())

    assert f"Cluster #{cluster.pk}" in page and "Same prompt and response" in page
    assert "Four minutes is the usual steeping time" in page and f"#{unrelated.pk}" not in page
    assert page.count("Keep this one, reject the others") == 3
    members = [f"{e.pk}:{e.version}" for e in [keep, *others]]

    answer = client.post("/duplicates/resolve/", {"keep": keep.pk, "members": members,
                                                          "next": f"/duplicates/{cluster.pk}/"})

    assert answer.status_code == 302 and answer["Location"] == f"/duplicates/{cluster.pk}/"
    assert Example.objects.get(pk=keep.pk).status == "candidate"
    for other in others:
        other = Example.objects.get(pk=other.pk)
        review = Review.objects.get(example=other)
        assert other.status == "rejected" and other.version == 2
        assert (review.decision, review.reason, review.reviewer) == ("reject", "duplicate", bob)
        assert review.comment == f"near-duplicate of #{keep.pk}, kept"
        assert other.revisions.get(number=2).note == "review: reject (duplicate)"
    shown = html.unescape(client.get(answer["Location"]).content.decode())
    assert f"Kept #{keep.pk}; rejected 2 as its duplicates." in shown
    # resolved: off the list, unless asked for
    assert f"Cluster #{cluster.pk}" not in html.unescape(client.get("/duplicates/").content.decode())
    assert f"Cluster #{cluster.pk}" in html.unescape(client.get("/duplicates/?all=1").content.decode())


def test_resolving_skips_what_changed_since_the_page_was_shown(client_of, bob):
    keep, other = make(*GIT, status="candidate"), make(GIT[0], spaced(GIT[1]), status="candidate")
    from curation.services import edit_example

    edit_example(other, expected_version=1, author=bob, tags=["looked"])

    client_of(bob).post("/duplicates/resolve/", {"keep": keep.pk, "members": [f"{keep.pk}:1", f"{other.pk}:1"]})

    assert Example.objects.get(pk=other.pk).status == "candidate" and not Review.objects.exists()


def test_the_example_page_the_table_and_the_queue_show_near_duplicates(client_of, bob):
    a, b = make(*COFFEE, status="candidate"), make(COFFEE[0], spaced(COFFEE[1]), status="candidate")
    alone = make(*BREAD, status="candidate")
    index.refresh()
    cluster = DuplicateCluster.objects.get()
    client = client_of(bob)

    example_page = html.unescape(client.get(f"/examples/{a.pk}/").content.decode())
    assert "Near-duplicates" in example_page and f'href="/examples/{b.pk}/"' in example_page
    assert f'href="/duplicates/{cluster.pk}/"' in example_page
    assert "None found by the last duplicate search" in client.get(f"/examples/{alone.pk}/").content.decode()

    table = client.get("/examples/?duplicates=yes")
    rows = html.unescape(table.content.decode())
    assert f'href="/examples/{a.pk}/"' in rows and f'href="/examples/{alone.pk}/"' not in rows
    assert "1 near-duplicate" in rows and f'href="/duplicates/{cluster.pk}/"' in rows
    by_count = client.get("/examples/?sort=-duplicates")
    order = [int(pk) for pk in re.findall(r'href="/examples/(\d+)/"', by_count.content.decode())]
    assert by_count.status_code == 200 and order.index(alone.pk) > max(order.index(a.pk), order.index(b.pk))
    api = client.get("/api/examples/?duplicates=no").json()
    assert [row["id"] for row in api["results"]] == [alone.pk]

    queue = html.unescape(client.get("/review/?flag=near_duplicates").content.decode())
    assert "Has near-duplicates" in queue and f"/duplicates/{cluster.pk}/" in queue


def test_the_command_prints_the_clusters_as_json():
    a, b = make(*ORBIT), make("Why does the Moon never crash into our planet?", sentence_appended(ORBIT[1]))
    c, d = make(*GIT), make(GIT[0].lower(), GIT[1])
    make(*PLANTS)
    out = io.StringIO()

    call_command("find_duplicates", "--json", stdout=out, stderr=io.StringIO())

    assert json.loads(out.getvalue().strip().splitlines()[-1]) == {"clusters": [[a.pk, b.pk], [c.pk, d.pk]]}
    out = io.StringIO()
    call_command("find_duplicates", "--threshold", "1.0", "--json", stdout=out, stderr=io.StringIO())
    assert json.loads(out.getvalue().strip().splitlines()[-1]) == {"clusters": [[c.pk, d.pk]]}


def test_a_search_is_a_job_one_waits_at_a_time_and_an_import_starts_one(client_of, alice, tmp_path):
    make(*ORBIT), make(ORBIT[0], sentence_appended(ORBIT[1]))
    client_of(alice).post("/duplicates/run/")
    client_of(alice).post("/duplicates/run/")  # one is already waiting
    run = DedupeRun.objects.get()
    assert run.status == "queued" and run.reason == "started by alice"

    run = run_here(run)

    assert (run.status, run.signed, run.clusters, run.clustered) == ("succeeded", 2, 1, 2)
    assert start_dedupe("again", run_async=False).signed == 0  # nothing new to sign
    from curation.imports.ingest import start_import
    from tests.curation.imports.builders import lima_rows, write_jsonl

    start_import("jsonl", write_jsonl(tmp_path / "a.jsonl", lima_rows(2)), run_async=False)
    assert DedupeRun.objects.filter(status="queued").get().reason.startswith("import #")


def test_beat_starts_a_search_only_when_examples_changed_since_the_last():
    from curation.dedupe.tasks import dedupe_if_stale
    from curation.services import edit_example

    a = make(*ORBIT)
    first = dedupe_if_stale()
    assert DedupeRun.objects.get(pk=first).status == "queued"
    run_here(DedupeRun.objects.get(pk=first))
    assert dedupe_if_stale() is None  # every signature in step
    edit_example(a, expected_version=a.version, author=None, turns=[ORBIT[0], sentence_appended(ORBIT[1])])
    assert dedupe_if_stale() not in (None, first)
