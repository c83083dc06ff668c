"""Shared fixtures: the personas (an admin, an annotator, an outsider), the real sample data, and a real
Celery worker process on the same broker and test database as the tests."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from core.roles import ADMIN, ANNOTATOR, ensure_roles
from tests.samples import SHARED_DATA, WORKER_LOG

REPO = Path(__file__).resolve().parents[1]


def _flush_waiting_out_deadlocks():
    """A transactional test's teardown TRUNCATEs every table. A worker still committing (a job a test did not wait
    for) can deadlock with it; PostgreSQL then cancels the TRUNCATE and the next test inherits rows. Seen once in CI
    (COMMIT of a worker against the teardown of tests/curation/imports/test_import_real_samples.py): try again, so
    the worker's commit ends first and the flush removes what it wrote."""
    from django.core.management.base import CommandError
    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def teardown(self):
        for attempt in range(4):
            try:
                return original(self)
            except CommandError as error:
                if attempt == 3 or "deadlock detected" not in str(error.__cause__):
                    raise
                time.sleep(1 + attempt)

    TransactionTestCase._fixture_teardown = teardown


_flush_waiting_out_deadlocks()


@pytest.fixture
def shared_data():
    """../shared/data, the real public samples; tests that need it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real samples not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The real hasher costs ~0.3 s a user; tests create many users and check no password strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def roles(db):
    return ensure_roles()


def _make_user(username, group=None):
    user = get_user_model().objects.create_user(username=username, password="correct horse battery staple")
    if group is not None:
        user.groups.add(group)
    return user


@pytest.fixture
def alice(roles):
    """Alice is an admin: she imports, freezes versions and starts training."""
    return _make_user("alice", roles[ADMIN])


@pytest.fixture
def bob(roles):
    """Bob is an annotator: he writes, edits and reviews."""
    return _make_user("bob", roles[ANNOTATOR])


@pytest.fixture
def charlie(roles):
    """Charlie has an account but no role: he sees nothing."""
    return _make_user("charlie")


@pytest.fixture
def client_of(client):
    """client_of(user) -> a Django test client logged in as user."""
    from django.test import Client

    def make(user):
        logged_in = Client()
        logged_in.force_login(user)
        return logged_in

    return make


def _database_url(settings_dict):
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real `celery worker` process on both queues, talking to the test database.

    Tests that use it must commit their data: mark them `django_db(transaction=True)`.
    """
    from django.db import connection

    from config.celery import app

    with django_db_blocker.unblock():
        env = dict(os.environ, DATABASE_URL=_database_url(connection.settings_dict), PYTHONUNBUFFERED="1")
    app.control.purge()  # messages left by an earlier run must not reach this worker
    log_path = WORKER_LOG
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,gpu", "-c", "2",
         "-n", f"test-{os.getpid()}@%h", "--loglevel=info", "--without-gossip", "--without-mingle"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        from core.tasks import ping

        deadline = time.monotonic() + 90
        while True:
            if worker.poll() is not None:
                raise RuntimeError(f"the Celery worker exited at start: see {log_path}")
            try:
                ping.delay().get(timeout=10)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
