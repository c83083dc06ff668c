"""Races against the live server: many requests at once on the same object get 2xx, 404 (it was deleted) or
409 (someone else won) with a JSON reason, never a 500.

Each test releases RACERS threads together (a barrier) against a threaded live server (Django's, one thread
and one database connection a request, with a listen backlog that takes them all), so the requests really
overlap in the database. Run them on PostgreSQL too, where transactions interleave for real:
DATABASE_URL=postgres://postgres@127.0.0.1:5432/lima_races pytest tests/test_races.py
"""
import os
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection
from django.test import Client
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from rest_framework.authtoken.models import Token

from curation.models import DatasetVersion, Example, ImportRun, RejectedRecord, Review, Revision
from curation.services import create_example, get_or_create_source
from inference.models import Judgment
from inference.studies import create_study
from tests.inference.builders import make_run
from tests.training.runs_helpers import frozen_version
from training.models import TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)

# Enough to make the requests overlap; PostgreSQL allows 100 connections in all, shared with other clients.
RACERS = int(os.environ.get("RACE_THREADS", "50"))
TURNS = [{"role": "user", "text": "What is a roux?"}, {"role": "assistant", "text": "Flour cooked in fat."}]
CSRF = "r" * 32  # an unmasked secret: the cookie and the header carry the same value


class _RaceServer(ThreadedWSGIServer):
    # Django's listen backlog of 10 makes the kernel reset the connections past it (SYN cookies) before the
    # server sees them; these requests must all reach it.
    request_queue_size = 4 * RACERS


class _RaceServerThread(LiveServerThread):
    server_class = _RaceServer


@pytest.fixture(scope="module")
def server():
    """The URL of a threaded live server (one thread and one database connection a request)."""
    thread = _RaceServerThread("127.0.0.1", static_handler=_StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


ANSWERS = Counter()  # every status code the races met, printed at the end (pytest -s) for the figures


@pytest.fixture(scope="module", autouse=True)
def tally():
    yield
    print(f"\nrace answers ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}): {dict(sorted(ANSWERS.items()))}")


def race(calls):
    """Run every call (a function of no argument returning a requests.Response) at the same moment."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        responses = list(pool.map(run, calls))
    ANSWERS.update(response.status_code for response in responses)
    return responses


def codes(responses):
    return Counter(response.status_code for response in responses)


def assert_reasoned(responses, *allowed):
    """No 500, only the allowed codes, and every refusal a JSON body that says why. (On SQLite a write that waited
    out the busy timeout behind another one is told 503 with Retry-After: a reasoned answer too, seen on a loaded
    machine.)"""
    if connection.vendor == "sqlite":
        allowed = (*allowed, 503)
    found = codes(responses)
    assert set(found) <= set(allowed), f"unexpected answers {dict(found)}: " + " | ".join(
        r.text[:300] for r in responses if r.status_code not in allowed
    )
    for response in responses:
        if response.status_code >= 400:
            assert response.headers["Content-Type"].startswith("application/json"), response.text[:300]
            assert response.json().get("detail"), response.text[:300]
    return found


class API:
    """A user's token calls against the live server."""

    def __init__(self, server, user):
        self.base = server
        self.headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}

    def __getattr__(self, method):
        def call(path, json=None):
            return lambda: requests.request(method, self.base + path, json=json, headers=self.headers, timeout=120)

        return call


class Pages:
    """A user's logged-in browser session (cookie and CSRF token) against the live server."""

    def __init__(self, server, user):
        self.base = server
        client = Client()
        client.force_login(user)
        self.cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value,
                        settings.CSRF_COOKIE_NAME: CSRF}

    def post(self, path, data, htmx=True):
        headers = {"X-CSRFToken": CSRF, **({"HX-Request": "true"} if htmx else {})}
        return lambda: requests.post(self.base + path, data=data, cookies=self.cookies, headers=headers,
                                     allow_redirects=False, timeout=120)


@pytest.fixture
def as_bob(server, bob):
    return API(server, bob)


@pytest.fixture
def as_alice(server, alice):
    return API(server, alice)


def an_example(prompt="What is a roux?", **fields):
    return create_example(turns=[prompt, "Flour cooked in fat."], **fields)


# --- Examples ----------------------------------------------------------------------------------------------


def test_same_id_creates_make_one_example_and_the_others_get_409(as_bob):
    body = {"external_id": "same-id", "turns": TURNS}

    responses = race([as_bob.post("/api/examples/", body) for _ in range(RACERS)])

    found = assert_reasoned(responses, 201, 409)
    assert found[201] == 1 and Example.objects.filter(external_id="same-id").count() == 1
    refused = next(r for r in responses if r.status_code == 409).json()
    assert "same-id" in refused["detail"]


def test_a_sequential_duplicate_id_is_a_409_too(as_bob):
    body = {"external_id": "twice", "turns": TURNS}
    assert as_bob.post("/api/examples/", body)().status_code == 201
    again = as_bob.post("/api/examples/", body)()
    assert again.status_code == 409 and "twice" in again.json()["detail"]


def test_delete_racing_patches_and_reviews_answers_204_200_404_or_409(as_alice, as_bob):
    for _ in range(3):
        example = an_example()
        path = f"/api/examples/{example.pk}/"
        calls = []
        for i in range(RACERS):
            if i % 3 == 0:
                calls.append(as_alice.delete(path))
            elif i % 3 == 1:
                calls.append(as_bob.patch(path, {"version": 1, "domain": f"d{i}"}))
            else:
                calls.append(as_bob.post(path + "reviews/", {"decision": "approve", "version": 1}))

        responses = race(calls)

        found = assert_reasoned(responses, 200, 201, 204, 404, 409)
        assert found[204] == 1 and not Example.objects.filter(pk=example.pk).exists()
        gone = {r.json()["detail"] for r in responses if r.status_code == 404}
        # Deleted before the request found it, or while the request was changing it:
        assert gone <= {"No Example matches the given query.", f"Example #{example.pk} was deleted meanwhile."}


def test_approve_racing_edit_lets_one_win_and_tells_the_others_the_current_version(as_bob):
    example = an_example()
    path = f"/api/examples/{example.pk}/"
    edited = [{"role": "user", "text": "What is a roux?"}, {"role": "assistant", "text": "Butter and flour."}]
    calls = [
        as_bob.post(path + "reviews/", {"decision": "approve", "version": 1}) if i % 2
        else as_bob.patch(path, {"version": 1, "turns": edited})
        for i in range(RACERS)
    ]

    responses = race(calls)

    found = assert_reasoned(responses, 200, 201, 409)
    assert found[200] + found[201] == 1
    assert all(r.json()["current_version"] == 2 for r in responses if r.status_code == 409)
    example.refresh_from_db()
    assert example.version == 2 and Revision.objects.filter(example=example).count() == 2
    assert Review.objects.filter(example=example).count() == found[201]


def test_rejections_racing_each_other_leave_one_new_revision(as_bob, bob):
    from curation.services import edit_example

    example = edit_example(an_example(), expected_version=1, author=bob, domain="changed")
    calls = [as_bob.post(f"/api/examples/{example.pk}/reviews/", {"decision": "reject", "reason": "style",
                                                                   "version": 2})
             for _ in range(RACERS)]

    responses = race(calls)

    found = assert_reasoned(responses, 201, 409)
    assert found[201] == 1 and Example.objects.get(pk=example.pk).version == 3


def test_freezing_while_examples_are_deleted_gives_201_204_or_409(as_alice):
    # Ten different conversations: copies of one answer are near-duplicates, which the freeze refuses.
    pairs = [("What is a roux?", "Flour cooked in fat, the base of many sauces."),
             ("Why is the sky blue?", "Air scatters short wavelengths of sunlight more than long ones."),
             ("How do bees make honey?", "They evaporate flower nectar in the hive while fanning their wings."),
             ("What does a capacitor store?", "Electric charge, held between two plates by an insulator."),
             ("Who wrote Middlemarch?", "George Eliot, the pen name of Mary Ann Evans, in 1871."),
             ("How deep is the Mariana Trench?", "Nearly eleven kilometres at the Challenger Deep."),
             ("Why do onions sting?", "Cutting them releases a sulphur gas that irritates the eyes."),
             ("What is a haiku?", "A Japanese poem of seventeen syllables in three lines."),
             ("How does a lever work?", "A small force far from the pivot moves a load near it."),
             ("What causes tides?", "The Moon's gravity, and the Sun's, pulling on the oceans.")]
    examples = [create_example(turns=list(pair), status="approved", split="train") for pair in pairs]
    calls = [as_alice.post("/api/datasets/", {"name": "racing", "selection": {"status": "approved"}})]
    calls += [as_alice.delete(f"/api/examples/{example.pk}/") for example in examples]

    responses = race(calls)

    freeze, deletes = responses[0], responses[1:]
    if freeze.status_code == 400:  # every delete landed before the freeze read its selection: a field error says so
        assert "holds no examples" in freeze.json()["selection"][0]
        assert {r.status_code for r in deletes} == {204}
    else:
        assert_reasoned(responses, 201, 204, 409)
    version = DatasetVersion.objects.filter(name="racing").first()
    if version is not None:  # every pinned example still exists
        assert version.items.count() == Example.objects.filter(dataset_items__version=version).count()


# --- Imports, training, inference ---------------------------------------------------------------------------


def test_rescuing_one_record_at_once_makes_one_example(as_alice):
    source = get_or_create_source("jsonl", "racing.jsonl")
    run = ImportRun.objects.create(source=source, file="racing.jsonl", status=ImportRun.Status.SUCCEEDED)
    record = RejectedRecord.objects.create(import_run=run, external_id="r1", reason="too_short",
                                           turns=["Hi?", "Hello."])

    responses = race([as_alice.post(f"/api/imports/{run.pk}/rescue/", {"rejected_record": record.pk})
                      for _ in range(RACERS)])

    assert_reasoned(responses, 201)
    assert {r.json()["example"] for r in responses} == {Example.objects.get(external_id="r1").pk}


def test_cancelling_a_queued_training_run_at_once_cancels_it_once(as_alice):
    version = frozen_version([["Hi?", "Hello."]])
    run = TrainingRun.objects.create(name="racing", dataset_version=version, base_model="tiny")

    responses = race([as_alice.post(f"/api/training-runs/{run.pk}/cancel/") for _ in range(RACERS)])

    found = assert_reasoned(responses, 200, 409)
    assert found[200] == 1
    assert TrainingRun.objects.get(pk=run.pk).status == TrainingRun.Status.CANCELLED


def test_one_annotator_labelling_an_item_many_times_at_once_keeps_one_label(server, bob):
    keys = [str(k) for k in range(1, 4)]
    a = make_run("model A", {k: f"A says {k}." for k in keys})
    b = make_run("model B", {k: f"B says {k}." for k in keys})
    study = create_study(name="racing", runs=[a, b], seed=1)
    as_bob = API(server, bob)
    labels = ["A", "B", "tie"]

    responses = race([as_bob.post(f"/api/studies/{study.pk}/labels/", {"position": 1, "label": labels[i % 3]})
                      for i in range(RACERS)])

    assert_reasoned(responses, 201)
    assert Judgment.objects.filter(item__study=study, item__position=1, annotator=bob).count() == 1


# --- The workspace's pages (htmx) --------------------------------------------------------------------------


def test_review_decisions_racing_a_delete_answer_404_or_409_never_500(server, bob, as_alice):
    pages = Pages(server, bob)
    for _ in range(3):
        example = an_example()
        calls = [as_alice.delete(f"/api/examples/{example.pk}/")]
        calls += [pages.post(f"/review/{example.pk}/decide/", {"decision": "approve", "version": 1})
                  for _ in range(RACERS // 3)]
        calls += [pages.post(f"/review/{example.pk}/split/", {"split": "dev", "version": 1})
                  for _ in range(RACERS // 3)]
        calls += [pages.post(f"/examples/{example.pk}/edit/", {"version": 1, "turn": ["Q?", f"A {i}."]})
                  for i in range(RACERS // 3)]

        responses = race(calls)

        found = codes(responses)
        assert set(found) <= {200, 204, 404, 409}, {r.status_code: r.text[:300] for r in responses}


def test_reverts_racing_edits_on_the_example_page_never_500(server, bob):
    from curation.services import edit_example

    example = edit_example(an_example(), expected_version=1, author=bob, domain="changed")
    pages = Pages(server, bob)
    calls = [pages.post(f"/examples/{example.pk}/revert/", {"number": 1, "version": 2}, htmx=False)
             for _ in range(RACERS // 2)]
    calls += [pages.post(f"/examples/{example.pk}/edit/", {"version": 2, "turn": ["Q?", f"A {i}."]})
              for i in range(RACERS // 2)]

    responses = race(calls)

    found = codes(responses)
    assert set(found) <= {200, 302, 409}, {r.status_code: r.text[:300] for r in responses}
    assert Example.objects.get(pk=example.pk).version == 3


def test_hand_written_examples_posted_at_once_are_all_kept(server, bob):
    pages = Pages(server, bob)
    marker = uuid.uuid4().hex
    calls = [pages.post("/write/", {"turn": [f"{marker} question {i}?", "An answer."], "split": "train"}, htmx=False)
             for i in range(RACERS)]

    responses = race(calls)

    assert codes(responses) == {302: RACERS}
    assert Example.objects.filter(turns__text__startswith=marker).count() == RACERS


# --- SQLite's one writer --------------------------------------------------------------------------------------


@pytest.fixture
def short_sqlite_wait():
    """New connections (the live server opens one a request) wait half a second for SQLite's write lock, not 30."""
    from django.db import connections

    if connections["default"].vendor != "sqlite":
        pytest.skip("PostgreSQL has no database-wide write lock: its writers wait for row locks instead")
    options = connections.settings["default"].setdefault("OPTIONS", {})
    kept = options.get("timeout")
    options["timeout"] = 0.5
    yield
    options["timeout"] = kept


def test_a_write_that_finds_sqlite_locked_answers_503_with_retry_after(short_sqlite_wait, as_bob):
    import sqlite3

    from django.db import connection

    create_example(turns=["Warm-up?", "Yes."])  # the hand-written source exists: the request only writes
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock for longer than the wait
    try:
        busy = as_bob.post("/api/examples/", {"turns": TURNS})()
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert "busy" in busy.json()["detail"]
    assert as_bob.post("/api/examples/", {"turns": TURNS})().status_code == 201  # and the retry goes through
