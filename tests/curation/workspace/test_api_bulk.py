"""POST /api/examples/bulk/: the table's bulk actions for programs — ids with versions or a filter, an answer
saying what was done and skipped, the role's limits, and big selections handed to a real worker."""
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from curation.models import BulkActionJob, Example, Review
from curation.services import create_example, edit_example

pytestmark = pytest.mark.django_db


def make(n, **kwargs):
    return [create_example(turns=[f"Question {i}: how do herons fish?", f"They wait, {i} times still."], **kwargs)
            for i in range(n)]


@pytest.fixture
def api(client_of, bob):
    return client_of(bob)


def post(client, body):
    return client.post("/api/examples/bulk/", body, content_type="application/json")


def test_named_examples_are_changed_and_the_answer_says_what_was_skipped(api, bob):
    examples = make(3)
    edit_example(examples[1], expected_version=1, author=bob, tags=["changed"])  # after the client read it

    answer = post(api, {"action": "reject", "reason": "duplicate", "comment": "Same as #1",
                        "items": [{"id": e.pk, "version": 1} for e in examples] + [{"id": 999999, "version": 1}]})

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert answer["Location"] == f"/api/examples/bulk/{body['id']}/"
    assert (body["status"], body["action"], body["total"], body["done"], body["changed"]) == (
        "succeeded", "reject", 4, 4, 2)
    assert body["skipped"] == {
        "stale": {"count": 1, "ids": [examples[1].pk], "label": "changed since the page showed it"},
        "gone": {"count": 1, "ids": [999999], "label": "deleted meanwhile"},
    }
    assert body["params"] == {"reason": "duplicate", "comment": "Same as #1"} and body["created_by"] == "bob"
    assert list(Review.objects.values_list("example_id", "decision", "reason", "comment").order_by("example_id")) == [
        (examples[0].pk, "reject", "duplicate", "Same as #1"), (examples[2].pk, "reject", "duplicate", "Same as #1")]
    assert api.get(answer["Location"]).json() == body


def test_a_filter_selects_every_match_and_changes_since_as_of_are_skipped(api, bob):
    herons = make(4, domain="birds")
    make(2, domain="fish")
    looked = timezone.now()
    edit_example(herons[0], expected_version=1, author=bob, split="dev")

    answer = post(api, {"action": "approve", "filter": {"domain": "birds", "search": "herons"}, "as_of": looked.isoformat()})

    assert answer.status_code == 201, answer.content
    assert answer.json()["changed"] == 3 and answer.json()["skipped"]["stale"]["ids"] == [herons[0].pk]
    assert set(Example.objects.filter(status="approved").values_list("pk", flat=True)) == {e.pk for e in herons[1:]}
    # without as_of it is now: nothing is stale yet
    again = post(api, {"action": "split", "split": "train", "filter": {"domain": "birds"}})
    assert again.json()["changed"] == 4 and again.json()["skipped"] == {}


def test_as_of_in_the_past_skips_examples_added_since(api):
    looked = timezone.now() - timedelta(seconds=1)
    made = make(2)
    answer = post(api, {"action": "tag", "tag": "late", "filter": {}, "as_of": looked.isoformat()})
    assert answer.json()["skipped"]["new"] == {"count": 2, "ids": [e.pk for e in made],
                                               "label": "added after the page was shown"}
    assert answer.json()["changed"] == 0


@pytest.mark.parametrize("body, field", [
    ({"action": "approve"}, "items"),
    ({"action": "approve", "items": [], "filter": {}}, "items"),
    ({"action": "approve", "items": []}, "items"),
    ({"action": "approve", "items": [{"id": 1}]}, "items"),
    ({"action": "reject", "items": [{"id": 1, "version": 1}]}, "reason"),
    ({"action": "split", "split": "validation", "items": [{"id": 1, "version": 1}]}, "split"),
    ({"action": "approve", "filter": {"status": "maybe"}}, "filters"),
    ({"action": "approve", "filter": {"domain": "nowhere"}}, "items"),  # no example matches
    ({"action": "melt", "items": [{"id": 1, "version": 1}]}, "action"),
    ({"action": "approve", "filter": {}, "as_of": "yesterday"}, "as_of"),
])
def test_a_request_it_cannot_take_is_a_400_naming_the_field(api, body, field):
    make(1)
    answer = post(api, body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json(), answer.json()
    assert not BulkActionJob.objects.exists() and not Review.objects.exists()


def test_the_role_decides_and_strangers_are_asked_who_they_are(api, client_of, alice, charlie, client):
    examples = make(2)
    body = {"action": "delete", "items": [{"id": e.pk, "version": 1} for e in examples]}

    assert post(api, body).status_code == 403  # annotators do not delete
    assert post(client_of(charlie), {**body, "action": "approve"}).status_code == 403  # no role
    assert post(client, body).status_code == 401  # anonymous
    assert Example.objects.count() == 2
    assert post(client_of(alice), body).status_code == 201
    assert Example.objects.count() == 0
    assert client_of(charlie).get("/api/examples/bulk/").status_code == 403
    assert [job["action"] for job in api.get("/api/examples/bulk/").json()["results"]] == ["delete"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_big_selection_is_queued_and_a_worker_runs_it(celery_worker, client_of, bob, settings):
    settings.BULK_JOB_MIN_EXAMPLES = 10  # in this process (the request); the worker needs no threshold
    made = make(25)
    api = client_of(bob)

    answer = post(api, {"action": "approve", "items": [{"id": e.pk, "version": 1} for e in made]})

    assert answer.status_code == 202, answer.content
    assert answer.json()["status"] == "queued" and answer.json()["total"] == 25
    deadline = time.monotonic() + 60
    while True:
        job = api.get(answer["Location"]).json()
        if job["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["status"] == "succeeded", job
    assert (job["done"], job["changed"], job["progress"], job["skipped"]) == (25, 25, 1.0, {})
    assert job["worker_name"].startswith("test-")
    assert Example.objects.filter(status="approved", version=2).count() == 25
    assert Review.objects.filter(reviewer=bob, decision="approve", revision__number=2).count() == 25


def test_an_admin_cancels_a_queued_job(client_of, alice, settings):
    settings.BULK_JOB_MIN_EXAMPLES = 1
    made = make(3)
    admin = client_of(alice)
    job = post(admin, {"action": "approve", "items": [{"id": e.pk, "version": 1} for e in made]}).json()
    assert job["status"] == "queued"

    cancelled = admin.post(f"/api/examples/bulk/{job['id']}/cancel/")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert not Example.objects.filter(status="approved").exists()
