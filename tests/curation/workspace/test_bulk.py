"""Bulk actions from the examples table, through HTTP: each writes what the single verb writes, row for row;
stale, new, held and unchanged examples are skipped and reported; "all matching" acts on a filter as the page
showed it; the role's permissions decide who may do what; big selections run as a job."""
import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.forms.models import model_to_dict

from core.jobs.runner import run_here
from curation.datasets.versions import freeze_version
from curation.models import BulkActionJob, Example, ExampleSummary, Review, Revision, Turn
from curation.services import create_example, edit_example, get_or_create_source, review_example
from curation.workspace.queue import try_claim
from curation.workspace.search import search_examples

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def make(n, prefix="Q", **kwargs):
    return [create_example(turns=[f"{prefix} {i}: how do I boil an egg?", f"Boil it for {i + 6} minutes."], **kwargs)
            for i in range(n)]


def items(*examples):
    return [f"{example.pk}:{example.version}" for example in examples]


def act(client, action, examples=(), htmx=True, **data):
    payload = {"action": action, "item": items(*examples), **data}
    return client.post("/examples/bulk/", payload, **(HTMX if htmx else {}))


def written(example):
    """Everything stored about an example but what is its own (ids, times): example, turns, revisions, reviews."""
    example = Example.objects.get(pk=example.pk)
    own = ["id", "external_id", "example"]
    return {
        # (who holds it in the review queue is the queue's business, not the example's content)
        "example": model_to_dict(example, exclude=[*own, "claimed_by", "claimed_until"]),
        "turns": [model_to_dict(turn, exclude=own) for turn in Turn.objects.filter(example=example)],
        "revisions": [model_to_dict(revision, exclude=own) for revision in example.revisions.order_by("number")],
        "reviews": [{**model_to_dict(review, exclude=[*own, "revision"]), "revision": review.revision.number}
                    for review in example.reviews.order_by("pk")],
        "summary": model_to_dict(example.summary, exclude=own),
    }


@pytest.fixture
def annotator(client_of, bob):
    return client_of(bob)


@pytest.fixture
def dana(roles):
    """A second annotator."""
    from core.roles import ANNOTATOR

    user = get_user_model().objects.create_user("dana", password="x")
    user.groups.add(roles[ANNOTATOR])
    return user


# --- The same rows as the single verbs -------------------------------------------------------------------

def twins():
    """Two examples alike in everything but their ids."""
    stack = get_or_create_source("stackexchange", "cooking.stackexchange.com")
    return [create_example(source=stack, domain="cooking", tags=["eggs"], turns=["How long for a soft egg?",
                                                                             "Six minutes in boiling water."])
            for _ in range(2)]


@pytest.mark.parametrize("decision, data", [
    ("approve", {}),
    ("reject", {"reason": "low_quality", "comment": "Wrong time."}),
])
def test_a_bulk_decision_writes_what_the_review_page_writes(annotator, decision, data):
    one, many = twins()
    # given one example decided on the review page, and its twin decided in bulk
    single = annotator.post(f"/review/{one.pk}/decide/", {"decision": decision, "version": 1, **data})
    assert single.status_code == 302
    report = act(annotator, decision, [many], **data)
    assert report.status_code == 200, report.content

    # then both have the same revision (the new status, the verb's note) and the same review
    assert written(many) == written(one)
    assert written(many)["revisions"][-1]["note"] == f"review: {decision}" + (" (low_quality)" if data else "")
    assert written(many)["reviews"][0]["revision"] == 2 and written(many)["reviews"][0]["comment"] == data.get("comment", "")


def test_a_bulk_split_writes_what_the_review_page_writes(annotator):
    one, many = twins()
    assert annotator.post(f"/review/{one.pk}/split/", {"split": "dev", "version": 1}).status_code == 302
    act(annotator, "split", [many], split="dev")
    assert written(many) == written(one)
    assert written(many)["revisions"][-1]["note"] == "split: dev"


@pytest.mark.parametrize("action, change, note", [
    ("tag", {"tags": ["eggs", "timing"]}, "tagged: timing"),
    ("untag", {"tags": []}, "untagged: eggs"),
])
def test_tagging_in_bulk_is_edit_example_with_its_note(annotator, bob, action, change, note):
    one, many = twins()
    edit_example(one, expected_version=1, author=bob, note=note, **change)
    act(annotator, action, [many], tag="timing" if action == "tag" else "eggs")
    assert written(many) == written(one)


def test_sending_to_review_makes_candidates_again_tagged_for_the_queue(annotator, bob):
    one, many = twins()
    for example in (one, many):
        review_example(example, reviewer=bob, decision="approve")
    edit_example(one, expected_version=2, author=bob, status="candidate", tags=["eggs", "recheck"],
                 note="sent to review (recheck)")

    report = act(annotator, "queue", [Example.objects.get(pk=many.pk)], tag="recheck")

    assert written(many) == written(one)
    assert 'href="/review/?status=candidate&amp;tag=recheck"' in report.content.decode()
    # the review queue, filtered on the tag, offers exactly these
    queue = annotator.get("/review/?status=candidate&tag=recheck").content.decode()
    assert re.search(r'data-example-id="(\d+)"', queue).group(1) in {str(one.pk), str(many.pk)}
    assert "<strong>2</strong> in this queue" in queue


def test_deleting_in_bulk_removes_what_delete_example_removes(client_of, alice):
    doomed, kept = make(2)
    review_example(doomed, reviewer=alice, decision="approve")

    response = act(client_of(alice), "delete", [Example.objects.get(pk=doomed.pk)])

    assert response.status_code == 200
    assert not Example.objects.filter(pk=doomed.pk).exists()
    for model in (Turn, Revision, Review, ExampleSummary):
        assert not model.objects.filter(example_id=doomed.pk).exists()
    assert not search_examples(Example.objects.all(), "boil").filter(pk=doomed.pk).exists()
    assert Example.objects.filter(pk=kept.pk).exists()


# --- What is skipped, and why ---------------------------------------------------------------------------

def test_an_example_changed_since_the_page_showed_it_is_refused_and_reported(annotator, dana):
    examples = make(4)
    seen = items(*examples)  # the versions the page showed
    # meanwhile Dana edits one
    edit_example(examples[2], expected_version=1, author=dana, turns=["Changed?", "Yes."])

    response = annotator.post("/examples/bulk/", {"action": "approve", "item": seen}, **HTMX)

    statuses = dict(Example.objects.values_list("pk", "status"))
    assert [statuses[e.pk] for e in examples] == ["approved", "approved", "candidate", "approved"]
    assert not Review.objects.filter(example=examples[2]).exists()
    job = BulkActionJob.objects.get()
    assert (job.changed, job.skipped) == (3, {"stale": {"count": 1, "ids": [examples[2].pk]}})
    page = response.content.decode()
    assert "<strong class=\"bulk-changed\">3</strong> approved" in page
    assert f'1</strong> changed since the page showed it: <a href="/examples/{examples[2].pk}/">' in page
    assert response["HX-Trigger"] == "examples-changed"  # the table reloads itself


def test_an_example_another_reviewer_holds_is_left_to_them(annotator, dana):
    examples = make(3)
    assert try_claim(examples[1].pk, dana)

    act(annotator, "approve", examples)

    assert Example.objects.get(pk=examples[1].pk).status == "candidate"
    job = BulkActionJob.objects.get()
    assert job.changed == 2 and job.skipped["held"]["ids"] == [examples[1].pk]


def test_examples_that_need_nothing_are_reported_as_unchanged(annotator, bob):
    examples = make(3)
    review_example(examples[0], reviewer=bob, decision="approve")
    fresh = [Example.objects.get(pk=e.pk) for e in examples]

    response = act(annotator, "approve", fresh)

    assert Review.objects.filter(example=examples[0]).count() == 1  # no second review of the same decision
    assert "1</strong> already approved" in response.content.decode()
    assert BulkActionJob.objects.get().changed == 2


def test_a_frozen_example_is_not_deleted(client_of, alice):
    frozen, loose = make(2, status="approved", split="train")
    Example.objects.filter(pk=loose.pk).update(status="candidate")
    freeze_version("v1")

    response = act(client_of(alice), "delete", [frozen, Example.objects.get(pk=loose.pk)])

    assert Example.objects.filter(pk=frozen.pk).exists() and not Example.objects.filter(pk=loose.pk).exists()
    assert "1</strong> in a frozen dataset version" in response.content.decode()


# --- All matching --------------------------------------------------------------------------------------

def test_all_matching_acts_on_the_filter_as_the_page_showed_it(annotator, bob):
    eggs = make(6, prefix="Eggs", domain="cooking")
    others = make(3, prefix="Tea", domain="drinks")
    page = annotator.get("/examples/?domain=cooking&q=boil&size=25").content.decode()
    as_of = re.search(r'name="as_of" value="([^"]+)"', page).group(1)
    query = re.search(r'name="query" value="([^"]+)"', page).group(1)
    assert "all 6 matching" not in page  # all of them are on the page: no "all matching" box then
    # after the page was shown: one example is edited, one added
    edit_example(eggs[0], expected_version=1, author=bob, tags=["x"])
    added = create_example(turns=["Eggs again: boil?", "Yes."], domain="cooking")

    response = annotator.post("/examples/bulk/", {"action": "split", "split": "train", "scope": "all",
                                                  "query": html.unescape(query), "as_of": as_of}, **HTMX)

    assert response.status_code == 200, response.content
    splits = dict(Example.objects.values_list("pk", "split"))
    assert [splits[e.pk] for e in eggs[1:]] == ["train"] * 5
    assert splits[eggs[0].pk] == "unassigned" and splits[added.pk] == "unassigned"
    assert {splits[e.pk] for e in others} == {"unassigned"}
    job = BulkActionJob.objects.get()
    assert job.changed == 5
    assert job.skipped == {"stale": {"count": 1, "ids": [eggs[0].pk]}, "new": {"count": 1, "ids": [added.pk]}}
    assert job.selection["filters"] == {"q": "boil", "domain": "cooking"}


def test_the_all_matching_box_appears_when_more_match_than_the_page_shows(annotator):
    make(30)
    page = annotator.get("/examples/?size=25").content.decode()
    assert 'name="scope" value="all"' in page and "all 30 matching" in page


# --- Who may ---------------------------------------------------------------------------------------------

def test_an_annotator_may_review_split_tag_and_queue_but_not_delete(annotator, client_of, charlie):
    examples = make(2)
    for action, data in [("reject", {"reason": "duplicate"}), ("split", {"split": "test"}), ("tag", {"tag": "a"}),
                         ("untag", {"tag": "a"}), ("queue", {}), ("style", {}), ("approve", {})]:
        fresh = list(Example.objects.filter(pk__in=[e.pk for e in examples]))
        assert act(annotator, action, fresh, **data).status_code == 200, action
    fresh = list(Example.objects.filter(pk__in=[e.pk for e in examples]))
    versions = [e.version for e in fresh]

    refused = act(annotator, "delete", fresh)

    assert refused.status_code == 403 and "delete_example" in refused.content.decode()
    assert [e.version for e in Example.objects.filter(pk__in=[e.pk for e in examples])] == versions
    assert Example.objects.count() == 2
    # and someone without a role may do nothing at all
    for action in ("approve", "split", "delete"):
        assert act(client_of(charlie), action, fresh, split="dev").status_code == 403
    assert act(annotator, "delete", fresh, htmx=False).status_code == 403


def test_the_permission_each_action_needs_is_the_one_asked(client_of, roles):
    # a group that may edit examples but not review them
    editors = Group.objects.create(name="editors")
    editors.permissions.set(Permission.objects.filter(codename__in=["view_example", "change_example"]))
    eve = get_user_model().objects.create_user("eve", password="x")
    eve.groups.add(editors)
    examples = make(2)
    client = client_of(eve)

    assert act(client, "approve", examples).status_code == 403
    assert act(client, "tag", examples, tag="seen").status_code == 200
    page = client.get("/examples/")
    assert page.status_code == 200
    assert 'value="approve"' not in page.content.decode() and 'value="tag"' in page.content.decode()


# --- Refused requests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, message", [
    ({"action": "reject"}, "A rejection needs a reason."),
    ({"action": "reject", "reason": "other"}, "Say why in a few words"),
    ({"action": "split", "split": "validation"}, "Pick a split"),
    ({"action": "tag", "tag": ""}, "Name the tag."),
    ({"action": "tag", "tag": "a,b"}, "without commas"),
    ({"action": "shred"}, "Unknown action"),
])
def test_a_request_the_action_cannot_take_changes_nothing_and_says_why(annotator, data, message):
    examples = make(2)
    response = annotator.post("/examples/bulk/", {**data, "item": items(*examples)}, **HTMX)
    assert response.status_code == 422
    assert message in response.content.decode() and "Nothing was done" in response.content.decode()
    assert not BulkActionJob.objects.exists() and Example.objects.filter(version=1).count() == 2


def test_nothing_selected_is_refused(annotator):
    make(1)
    response = annotator.post("/examples/bulk/", {"action": "approve"}, **HTMX)
    assert response.status_code == 422 and "Select at least one example" in response.content.decode()
    broken = annotator.post("/examples/bulk/", {"action": "approve", "item": ["1:x", "y"]}, **HTMX)
    assert broken.status_code == 422


def test_without_htmx_the_form_redirects_back_with_a_message(annotator):
    examples = make(2)
    response = act(annotator, "approve", examples, htmx=False, query="status=candidate")
    assert response.status_code == 302 and response["Location"] == "/examples/?status=candidate"
    page = annotator.get(response["Location"]).content.decode()
    assert "Approve: 2 approved, 0 skipped." in page


# --- Big selections run as a job --------------------------------------------------------------------------

def test_a_selection_above_the_threshold_is_queued_and_its_report_polls_until_done(annotator, settings):
    settings.BULK_JOB_MIN_EXAMPLES = 3
    examples = make(5)

    response = act(annotator, "approve", examples)

    job = BulkActionJob.objects.get()
    assert job.status == "queued" and job.total == 5
    assert f'hx-get="/examples/bulk/{job.pk}/" hx-trigger="every 1s"' in response.content.decode()
    assert Example.objects.filter(status="approved").count() == 0
    # a worker runs it (here, in this process: the worker test is tests/curation/workspace/test_api_bulk.py)
    run_here(job)
    polled = annotator.get(f"/examples/bulk/{job.pk}/", **HTMX)
    assert "every 1s" not in polled.content.decode() and "<strong class=\"bulk-changed\">5</strong>" in polled.content.decode()
    assert polled["HX-Trigger"] == "examples-changed"
    assert Example.objects.filter(status="approved").count() == 5
    assert Review.objects.count() == 5


def test_a_job_works_chunk_by_chunk_and_counts_what_it_did(annotator, settings, monkeypatch):
    from curation.workspace import bulk

    settings.BULK_JOB_MIN_EXAMPLES = 1
    monkeypatch.setattr(bulk, "CHUNK", 2)  # 5 examples: three transactions
    examples = make(5)
    edit_example(examples[4], expected_version=1, author=None, split="test")
    act(annotator, "split", examples, split="train")

    job = run_here(BulkActionJob.objects.get())

    assert (job.status, job.total, job.done, job.changed) == ("succeeded", 5, 5, 4)
    assert job.skipped == {"stale": {"count": 1, "ids": [examples[4].pk]}}
    assert Example.objects.filter(split="train").count() == 4
