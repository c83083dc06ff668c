"""An engine subprocess of a job (core.jobs.engine): its JSON events reach the job, its other lines are kept for
the failure message, and a cancelled or lost job stops it — SIGTERM, then SIGKILL after the grace period —
with nothing of its process group left."""
import sys
import time

import psutil
import pytest

from core.jobs.context import JobContext
from core.jobs.engine import run_engine
from inference.models import GenerationRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def job():
    return GenerationRun.objects.create(name="engine test", status=GenerationRun.Status.RUNNING, attempt=1)


def python(script):
    return [sys.executable, "-c", script]


def test_events_reach_the_job_and_other_lines_make_the_failure_message(job):
    script = (
        "import json, sys\n"
        "print(json.dumps({'event': 'progress', 'done': 1}), flush=True)\n"
        "print(json.dumps({'event': 'progress', 'done': 2}), file=sys.stderr, flush=True)\n"
        "print('Traceback: something broke', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    events, lines = [], []

    outcome = run_engine(python(script), JobContext(job), on_event=events.append,
                         on_line=lambda stream, line: lines.append((stream, line)))

    # (the two streams are read side by side: their lines keep their order within a stream only)
    assert sorted(events, key=lambda e: e["done"]) == [{"event": "progress", "done": 1}, {"event": "progress", "done": 2}]
    assert lines == [("stderr", "Traceback: something broke")]
    assert outcome.returncode == 3 and outcome.stopped == ""
    assert "exited with code 3" in outcome.failure() and "something broke" in outcome.failure()


def test_the_engines_own_error_event_is_the_failure_message(job):
    script = "import json, sys\nprint(json.dumps({'event': 'error', 'message': 'CUDA out of memory'}))\nsys.exit(1)\n"

    outcome = run_engine(python(script), JobContext(job), on_event=lambda event: None)

    assert outcome.failure() == "CUDA out of memory (exit code 1)"


def test_a_cancel_asked_in_the_database_stops_the_engine_and_its_children(job, settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.1
    # an engine that starts a child of its own (torchrun's ranks), then waits
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    pids = []

    def on_line(stream, line):
        pids.append(int(line))
        GenerationRun.objects.filter(pk=job.pk).update(cancel_requested=True)

    started = time.monotonic()
    outcome = run_engine(python(script), JobContext(job), on_event=lambda event: None, on_line=on_line)

    assert outcome.stopped == "cancel" and outcome.returncode < 0
    assert time.monotonic() - started < 30
    assert pids and not _alive(pids[0])  # the whole group went


def test_an_engine_that_ignores_sigterm_is_killed_after_the_grace_period(job, settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.1
    settings.JOB_KILL_GRACE_SECONDS = 1.0
    script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(120)\n"

    def on_line(stream, line):
        GenerationRun.objects.filter(pk=job.pk).update(cancel_requested=True)

    started = time.monotonic()
    outcome = run_engine(python(script), JobContext(job), on_event=lambda event: None, on_line=on_line)

    assert outcome.stopped == "cancel" and outcome.returncode == -9
    assert 1.0 <= time.monotonic() - started < 30


def test_a_job_the_worker_lost_stops_its_engine(job, settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.1

    def on_line(stream, line):  # the reaper, elsewhere, ended the job
        GenerationRun.objects.filter(pk=job.pk).update(status=GenerationRun.Status.FAILED)

    outcome = run_engine(python("import time\nprint('ready', flush=True)\ntime.sleep(120)\n"), JobContext(job),
                         on_event=lambda event: None, on_line=on_line)

    assert outcome.stopped == "lost"


def _alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
