"""A worker that dies mid-run never leaves its run "running": the job reaper (core.jobs.reaper, run by Celery beat
and when a worker starts) marks it failed with the cause and kills an orphaned engine on this host."""
import subprocess
import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.jobs.reaper import reap
from core.processes import group_alive, host_name
from core.tasks import reap_at_worker_start
from training.models import TrainingRun
from training.services import cancel_training_run, start_training_run

from .runs_helpers import frozen_version


@pytest.fixture
def make_running(db, tiny_model_dir, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    version = frozen_version([["Hi?", "Hello."]])

    def make(*, beat_seconds_ago, worker_name="gpu@elsewhere", **fields):
        run = start_training_run(version, str(tiny_model_dir), enqueue=False)
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.RUNNING, attempt=1, worker_name=worker_name, worker_host="elsewhere",
            started_at=timezone.now() - timedelta(hours=1), heartbeat_at=timezone.now() - timedelta(seconds=beat_seconds_ago),
            **fields,
        )
        return TrainingRun.objects.get(pk=run.pk)

    return make


@pytest.fixture
def orphan():
    """A process in a session of its own, standing for an engine whose worker died."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def test_the_reaper_marks_a_silent_run_failed_with_the_cause_and_leaves_a_beating_one(make_running, alice):
    # given a run whose worker stopped beating ten minutes ago, and one that beat a second ago
    dead = make_running(beat_seconds_ago=600, worker_name="gpu@box1", pid=4242, pgid=4242)
    alive = make_running(beat_seconds_ago=1)
    # when the reaper runs
    reap()
    # then, as the API shows it
    client = APIClient()
    client.force_authenticate(alice)
    listed = {row["id"]: row for row in client.get("/api/training-runs/").json()["results"]}
    assert listed[dead.pk]["status"] == "failed"
    assert "The worker gpu@box1 stopped sending heartbeats" in listed[dead.pk]["error"]
    assert "Resume it" in listed[dead.pk]["error"]
    assert listed[alive.pk]["status"] == "running"
    dead.refresh_from_db()
    assert dead.finished_at is not None and dead.pgid is None


def test_the_training_pages_reap_nothing(make_running, client_of, bob):
    dead = make_running(beat_seconds_ago=600)
    client_of(bob).get("/training/")
    client_of(bob).get(f"/training/{dead.pk}/")
    assert TrainingRun.objects.get(pk=dead.pk).status == TrainingRun.Status.RUNNING


def test_a_restarted_gpu_worker_fails_the_runs_it_held_even_with_a_recent_heartbeat(make_running):
    held = make_running(beat_seconds_ago=5, worker_name="gpu@box1")
    others = make_running(beat_seconds_ago=5, worker_name="gpu@box2")
    reap_at_worker_start(sender=SimpleNamespace(hostname="gpu@box1"))
    held.refresh_from_db()
    others.refresh_from_db()
    assert held.status == "failed" and "restarted while running this training run" in held.error
    assert others.status == "running"


def test_the_reaper_kills_an_orphaned_engine_on_this_host(make_running, orphan):
    run = make_running(beat_seconds_ago=600, pid=orphan.pid, pgid=orphan.pid)
    TrainingRun.objects.filter(pk=run.pk).update(worker_host=host_name())
    assert group_alive(orphan.pid)
    assert [reaped.pk for reaped in reap()] == [run.pk]
    orphan.wait(timeout=10)
    assert not group_alive(orphan.pid)


def test_a_run_asked_to_cancel_whose_worker_died_ends_cancelled(make_running, alice):
    run = make_running(beat_seconds_ago=5)
    cancel_training_run(run, alice)  # the worker is elsewhere: only the flag is set
    assert TrainingRun.objects.get(pk=run.pk).status == "running"
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    reap()
    run.refresh_from_db()
    assert run.status == "cancelled" and run.error == ""


def test_the_heartbeat_limit_is_the_one_given(make_running):
    run = make_running(beat_seconds_ago=30)
    assert reap(timeout=60) == []
    assert [r.pk for r in reap(timeout=10)] == [run.pk]
