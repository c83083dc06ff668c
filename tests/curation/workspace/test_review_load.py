"""The review queue under load: a request's queries do not grow with the data, claims stay exclusive when many
reviewers ask at once, a cache outage only costs time, and bench/load.py runs against gunicorn + PostgreSQL."""
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.roles import ANNOTATOR
from curation.models import Example, Review
from curation.services import create_examples_bulk, get_or_create_source

REPO = Path(__file__).resolve().parents[3]
QUEUE = "status=candidate"
HTMX = {"HTTP_HX_REQUEST": "true"}


def fill(count, reviewer):
    """`count` candidates of two turns, with tags, a domain each, and a review of every third by `reviewer`."""
    source = get_or_create_source("stackexchange", "cooking.stackexchange.com")
    examples = create_examples_bulk(
        [{"turns": [f"How do I fix sauce number {n}?", f"Whisk in cold butter, a piece at a time ({n})."],
          "domain": f"domain-{n % 37}", "tags": ["sauce", f"batch-{n % 5}"], "external_id": f"load-{n}"}
         for n in range(count)],
        source=source,
    )
    Review.objects.bulk_create(Review(example=e, reviewer=reviewer, decision="needs_edit") for e in examples[::3])
    return examples


def shown(response):
    pk, version = re.search(r'data-example-id="(\d+)" data-version="(\d+)"', response.content.decode()).groups()
    return int(pk), int(version)


def queries(call):
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200, response.content[:300]
    return len(captured), response


def counts_for(web):
    """Queries of each queue action, each measured once the shared lists are cached (as on a running server)."""
    web.get(f"/review/?{QUEUE}")  # the first page also fills the shared cache
    figures = {}
    figures["page"], response = queries(lambda: web.get(f"/review/?{QUEUE}"))
    pk, version = shown(response)
    figures["panel"], _ = queries(lambda: web.get(f"/review/?{QUEUE}", **HTMX))
    figures["next"], response = queries(lambda: web.get(f"/review/step/?after={pk}&{QUEUE}", **HTMX))
    pk, version = shown(response)
    figures["approve"], response = queries(
        lambda: web.post(f"/review/{pk}/decide/?{QUEUE}", {"decision": "approve", "version": version}, **HTMX))
    pk, version = shown(response)
    figures["reject"], _ = queries(lambda: web.post(
        f"/review/{pk}/decide/?{QUEUE}", {"decision": "reject", "reason": "low_quality", "version": version}, **HTMX))
    return figures


@pytest.mark.django_db
def test_a_review_request_makes_the_same_few_queries_with_10_or_200_examples(client_of, bob, alice):
    fill(10, alice)
    small = counts_for(client_of(bob))
    Example.objects.all().delete()
    fill(200, alice)
    large = counts_for(client_of(bob))

    assert small == large
    # session, user, permissions (2), the item with its source, turns, near-duplicates, counts, reviews, the
    # claim; a decision adds its transaction: lock, revision, review, the next claim.
    assert large["page"] <= 15 and large["panel"] <= 12 and large["next"] <= 12, large
    assert large["approve"] <= 27 and large["reject"] <= 27, large


@pytest.mark.django_db
def test_the_queue_works_while_the_cache_is_down(settings, client_of, bob, alice):
    fill(3, alice)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing listens on port 1
    web = client_of(bob)

    page = web.get(f"/review/?{QUEUE}")
    assert page.status_code == 200
    assert "<strong>3</strong> in this queue" in page.content.decode()
    pk, version = shown(page)
    approved = web.post(f"/review/{pk}/decide/?{QUEUE}", {"decision": "approve", "version": version}, **HTMX)
    assert approved.status_code == 200
    assert Example.objects.get(pk=pk).status == "approved"
    assert "<strong>2</strong> in this queue" in approved.content.decode()


@pytest.mark.django_db
def test_a_large_queue_is_counted_once_for_everyone_within_a_few_seconds(client_of, bob, alice):
    from curation.workspace import queue

    fill(queue.COUNT_CACHE_MIN + 5, alice)
    web = client_of(bob)
    web.get(f"/review/?{QUEUE}")
    with CaptureQueriesContext(connection) as captured:
        web.get(f"/review/?{QUEUE}", **HTMX)
    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"]]
    assert len(counts) == 1 and "claimed_by_id\" IS NOT NULL" in counts[0], counts  # only the live claims


# --- Many reviewers at once, against a threaded live server ---------------------------------------------------------

@pytest.fixture
def live(live_server):
    return live_server.url


@pytest.mark.django_db(transaction=True)
def test_reviewers_opening_the_queue_at_once_each_get_their_own_item(live, roles):
    source = get_or_create_source("stackexchange", "cooking.stackexchange.com")
    create_examples_bulk([{"turns": [f"Question {n}?", f"Answer {n}."]} for n in range(40)], source=source)
    reviewers = []
    for n in range(12):
        user = get_user_model().objects.create_user(username=f"racer-{n}", password="x")
        user.groups.add(roles[ANNOTATOR])
        client = Client()
        client.force_login(user)
        reviewers.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    barrier = threading.Barrier(len(reviewers))
    shown_ids = [None] * len(reviewers)

    def review(index):
        barrier.wait()
        response = requests.get(f"{live}/review/?{QUEUE}", cookies={settings.SESSION_COOKIE_NAME: reviewers[index]},
                                timeout=120)
        assert response.status_code == 200, response.text[:300]
        shown_ids[index] = int(re.search(r'data-example-id="(\d+)"', response.text).group(1))

    threads = [threading.Thread(target=review, args=(n,)) for n in range(len(reviewers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)

    assert None not in shown_ids and len(set(shown_ids)) == len(reviewers), shown_ids
    held = dict(Example.objects.exclude(claimed_by=None).values_list("pk", "claimed_by__username"))
    assert sorted(held) == sorted(shown_ids)
    assert len(set(held.values())) == len(reviewers)


# --- bench/load.py, at a small size ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_load_bench_runs_against_gunicorn_and_postgresql_without_errors(tmp_path):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("bench/load.py measures PostgreSQL: set DATABASE_URL to a postgres:// URL")
    name = f"lima_load_ci_{os.getpid()}"
    env = {**os.environ, "VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "load.py"), "--users", "10", "--seconds", "20", "--examples", "2000",
         "--database", name],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    try:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        out = result.stdout
        assert "errors: 0" in out, out
        for action in ("review page", "approve", "reject", "next", "similar"):
            assert re.search(rf"^\s+{action}\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+", out, re.M), (action, out)
        assert re.search(r"[\d.]+ requests/s", out), out
    finally:
        import psycopg

        with psycopg.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
