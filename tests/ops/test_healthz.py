"""/healthz/ answers a probe without a login: 200 while every required part is up, 503 naming the part that is not."""
import json
import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from tests.conftest import REPO, _database_url

pytestmark = pytest.mark.django_db(transaction=True)


def _health(client, **query):
    response = client.get("/healthz/", query)
    return response.status_code, response.json()


def test_the_cheap_form_checks_the_database_only(client):
    status, body = _health(client)
    assert status == 200 and body["status"] == "ok"
    assert list(body["checks"]) == ["database"]
    assert client.get("/healthz").status_code == 200  # probes that drop the slash are not redirected


def test_a_wrong_flag_is_a_400(client):
    response = client.get("/healthz/", {"full": "maybe"})
    assert response.status_code == 400 and "full" in response.json()["detail"]


def test_it_reveals_no_secret(client, settings):
    settings.HEALTHZ_QUEUES = []
    text = client.get("/healthz/", {"full": 1}).content.decode()
    for secret in (settings.SECRET_KEY, settings.CELERY_BROKER_URL, str(settings.MEDIA_ROOT), "postgres://"):
        assert secret not in text


def test_too_little_disk_is_down(client, settings):
    settings.HEALTHZ_QUEUES = []
    settings.HEALTHZ_MIN_FREE_MB = 10**12
    status, body = _health(client, full=1)
    assert status == 503 and body["status"] == "down"
    assert body["checks"]["disk"]["ok"] is False and body["checks"]["database"]["ok"] is True


def test_an_unreachable_broker_is_down_and_answers_quickly():
    # A web process whose broker is gone: Redis at a port where nothing listens (the discard port).
    script = ("import django, json; django.setup(); from django.test import Client; "
              "r = Client().get('/healthz/', {'full': 1}); print(r.status_code, r.content.decode())")
    env = dict(os.environ, DATABASE_URL=_database_url(connection.settings_dict), REDIS_URL="redis://127.0.0.1:9/0",
               DJANGO_SETTINGS_MODULE="config.settings", HEALTHZ_QUEUES="default")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    status, text = done.stdout.strip().splitlines()[-1].split(" ", 1)
    body = json.loads(text)

    assert status == "503"
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["workers"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert "127.0.0.1:9" not in text
    assert elapsed < 30  # Python and Django start in ~5 s; the probe itself gives up after one short attempt


def _start_worker(queue):
    env = dict(os.environ, DATABASE_URL=_database_url(connection.settings_dict), PYTHONUNBUFFERED="1")
    (REPO / "var").mkdir(exist_ok=True)
    log = open(REPO / "var" / f"test-healthz-{queue}.log", "w")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1", "-P", "solo",
         "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--loglevel=warning"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def _wait_for(client, ready, seconds=90):
    deadline = time.monotonic() + seconds
    while True:
        status, body = _health(client, full=1)
        if ready(status, body) or time.monotonic() > deadline:
            return status, body
        time.sleep(0.5)


def test_a_worker_on_each_required_queue_makes_it_ready_and_stopping_it_makes_it_down(client, settings):
    # A queue of this test alone, so that workers other tests start do not answer for it; a fixed name, since the
    # filesystem broker keeps a stopped node's mailbox (each later broadcast writes into it) until it starts again.
    queue = "healthz-test"
    settings.HEALTHZ_QUEUES = [queue]
    settings.HEALTHZ_MIN_FREE_MB = 0

    # given no worker on the queue
    status, body = _health(client, full=1)
    assert status == 503 and body["checks"]["workers"]["queues"][queue] == {"ok": False, "workers": 0}

    # when one starts
    worker = _start_worker(queue)
    try:
        status, body = _wait_for(client, lambda status, body: status == 200)
        assert status == 200, body
        assert body["checks"]["workers"]["queues"][queue] == {"ok": True, "workers": 1}
        assert body["checks"]["broker"]["ok"] and body["checks"]["database"]["ok"]
    finally:
        # then stopping it is seen at the next probe
        worker.terminate()
        worker.wait(timeout=30)
    status, body = _wait_for(client, lambda status, body: status == 503, seconds=10)
    assert status == 503 and body["checks"]["workers"]["queues"][queue]["workers"] == 0


def test_the_default_queues_are_default_and_gpu(client, settings):
    assert settings.HEALTHZ_QUEUES == ["default", "gpu"]
    settings.HEALTHZ_TIMEOUT = 0.2
    body = client.get("/healthz/", {"full": 1}).json()
    assert {"default", "gpu"} <= set(body["checks"]["workers"]["queues"])


def test_a_probe_by_ip_over_plain_http_is_answered_before_the_host_check_and_the_https_redirect(client, settings):
    settings.ALLOWED_HOSTS = ["studio.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz/", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert client.get("/review/", HTTP_HOST="10.0.0.7:8000").status_code == 400  # every other page still checks
