"""Every kind of long work ends — succeeded, failed with a cause, or cancelled — whatever is killed.

Through real Celery workers on a broker of the tests' own (a Redis database, or a filesystem broker folder), and
jobs started by another process the way the web app starts them (tests/core/job_driver.py). For each kind —
import, export, freeze, training, generation:
- `kill -9` of its worker's whole process group mid-run: the job is failed with a readable cause within the
  heartbeat timeout and a reaper interval, with no page loaded; nothing half-written is kept; an engine
  subprocess dies with its worker; a new worker takes the next job;
- cancel while it runs: the job ends cancelled and keeps nothing;
- a broker nobody answers at: the job fails at once with the queue's message (tests/core/test_jobs.py).
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

import psutil
import pytest
from django.conf import settings
from django.db import connection

from curation.models import DatasetVersion, Example, ExportJob, FreezeJob, ImportRun, RejectedRecord
from curation.services import create_examples_bulk, get_or_create_source
from inference.models import Generation, GenerationRun
from tests.conftest import REPO, _database_url
from tests.curation.imports.builders import lima_rows, write_jsonl
from tests.inference.builders import DEV_CHATS, make_version
from tests.training.runs_helpers import FAST_RECIPE, frozen_version
from training.models import TrainingRun

# A vocabulary for the big version's answers: four-letter words, 20,000 of them.
WORDS = ["".join(chr(97 + (n // 26 ** k) % 26) for k in range(4)) for n in range(20_000)]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

HEARTBEAT_TIMEOUT = 3.0
REAPER_SECONDS = 1.0
# A worker takes a few seconds to start on a busy 2-core machine; the reaper runs as it starts.
WORKER_START_SLACK = 90.0  # a worker booting Django while four other test groups share the two cores


class World:
    """Workers, a broker and a media folder of this test alone."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.env = dict(
            os.environ, DATABASE_URL=_database_url(connection.settings_dict), PYTHONUNBUFFERED="1",
            VAR_DIR=str(tmp_path / "var"), MEDIA_ROOT=str(tmp_path / "media"), HF_HUB_OFFLINE="1",
            JOB_HEARTBEAT_SECONDS="0.1", JOB_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT),
            JOB_REAPER_SECONDS=str(REAPER_SECONDS), JOB_KILL_GRACE_SECONDS="3", FREEZE_JOB_MIN_EXAMPLES="0",
        )
        if settings.REDIS_URL:
            # a database of their own, one below the test run's (scripts/test.py leaves it free for them)
            base, db = settings.REDIS_URL.rsplit("/", 1)
            self.env["REDIS_URL"] = f"{base}/{int(db) - 1 if db.isdigit() and int(db) > 0 else 14}"
        self.workers = []
        self.drive("purge")

    def drive(self, kind, **args):
        done = subprocess.run([sys.executable, "-m", "tests.core.job_driver", kind, json.dumps(args)], cwd=REPO,
                              env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def start(self, model, kind, **args):
        return model.objects.get(pk=self.drive(kind, **args)["id"])

    def worker(self, name, *, beat=False):
        log_path = self.tmp / f"{name}.log"
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,gpu", "-c", "1",
                   "-n", f"{name}-{os.getpid()}@%h", "--loglevel=info", "--without-gossip", "--without-mingle",
                   "--without-heartbeat"]
        if beat:
            command += ["-B", "-s", str(self.tmp / "beat-schedule")]
        process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=open(log_path, "w"),
                                   stderr=subprocess.STDOUT, start_new_session=True)
        process.log_path = log_path
        self.workers.append(process)
        deadline = time.monotonic() + 120
        while " ready." not in log_path.read_text():
            assert process.poll() is None, f"the worker {name} exited at start:\n{log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the worker {name} did not start:\n{log_path.read_text()[-3000:]}"
            time.sleep(0.2)
        return process

    def signal(self, process, sig):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self, process):
        self.signal(process, signal.SIGKILL)
        process.wait(timeout=30)

    def close(self):
        for process in self.workers:
            self.signal(process, signal.SIGCONT)
            self.signal(process, signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill(process)


@pytest.fixture
def world(tmp_path):
    world = World(tmp_path)
    yield world
    world.close()


def wait(job, condition, timeout, what, tick=0.01):
    deadline = time.monotonic() + timeout
    while True:
        job.refresh_from_db()
        if condition(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s: {job} {job.error!r}")
        time.sleep(tick)


def engine_processes(worker):
    """Processes a worker's pool started in sessions of their own: the engine subprocesses."""
    try:
        children = psutil.Process(worker.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [child for child in children if os.getsid(child.pid) == child.pid]


def alive(process):
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# --- The kinds: how to start one that runs a while, and what "nothing half-written" means for it -----------

@pytest.fixture
def big_version():
    """80 MB of approved train examples (2,000 of 40 KB), frozen: exporting or freezing them takes about a second; and one small
    example of its own domain, for a small freeze."""
    from curation.datasets.versions import Selection, freeze_version

    source = get_or_create_source("manual", "fault tests")

    def answer(i):  # 40 KB of words of its own: no two answers are near-duplicates (the freeze would refuse them)
        return " ".join(random.Random(i).choices(WORDS, k=8000))

    create_examples_bulk(
        ({"turns": [f"Question {i}?", answer(i)], "status": "approved", "split": "train"} for i in range(2000)),
        source=source,
    )
    create_examples_bulk([{"turns": ["Small?", "Yes."], "status": "approved", "split": "train", "domain": "small"}],
                         source=source)
    return freeze_version("big", selection=Selection.from_dict({"status": "approved"})).version


def import_kind(tmp_path, **_):
    long = write_jsonl(tmp_path / "long.jsonl", lima_rows(40000))
    short = write_jsonl(tmp_path / "short.jsonl", lima_rows(3, prefix="Next"))

    def nothing_kept(run):
        assert not Example.objects.filter(import_run=run).exists()
        assert not RejectedRecord.objects.filter(import_run=run).exists()

    return (ImportRun, "import", {"path": str(long)}, {"path": str(short), "name": "next"},
            lambda run: run.read_count > 0, nothing_kept)


def export_kind(tmp_path, world, big_version, **_):
    version = big_version

    def nothing_kept(job):
        exports = tmp_path / "media" / "exports"
        assert not any(exports.glob(f"*job{job.pk}-*")) if exports.is_dir() else True
        assert not job.file

    return (ExportJob, "export", {"version": version.pk}, {"version": version.pk},
            lambda job: True, nothing_kept)


def freeze_kind(tmp_path, big_version, **_):
    before = DatasetVersion.objects.count()

    def nothing_kept(job):
        # a freeze that ended before it could be caught running (the test then starts another) made its version
        finished = FreezeJob.objects.filter(status=FreezeJob.Status.SUCCEEDED).count()
        assert job.version_id is None and DatasetVersion.objects.count() == before + finished

    return (FreezeJob, "freeze", {"name": "big freeze", "selection": {"status": "approved"}},
            {"name": "small freeze", "selection": {"status": "approved", "domains": ["small"]}},
            lambda job: True, nothing_kept)


def training_kind(model_dir, conversations, **_):
    version = frozen_version(conversations)
    overrides = {**FAST_RECIPE, "epochs": 400, "save_from_epoch": 1000}

    def nothing_kept(run):
        assert run.pgid is None

    return (TrainingRun, "training",
            {"version": version.pk, "base_model": str(model_dir), "overrides": overrides},
            {"version": version.pk, "base_model": str(model_dir), "overrides": {**FAST_RECIPE, "epochs": 1}},
            lambda run: run.done > 0, nothing_kept)


def generation_kind(checkpoint, **_):
    version = make_version(dev=DEV_CHATS * 40)  # 120 prompts, one at a time: a while on the tiny model
    slow = {"max_new_tokens": 2048}

    def nothing_kept(run):
        assert not Generation.objects.filter(run=run).exists()

    return (GenerationRun, "generation",
            {"model_path": str(checkpoint), "version": version.pk, "decoding": slow},
            {"model_path": str(checkpoint), "version": version.pk, "decoding": {"max_new_tokens": 4}},
            lambda run: True, nothing_kept)


KINDS = {"import": import_kind, "export": export_kind, "freeze": freeze_kind, "training": training_kind,
         "generation": generation_kind}
ENGINES = {"training", "generation"}


@pytest.fixture
def kind_of(request, tmp_path, world):
    def make(name):
        fixtures = {}
        if name in ("export", "freeze"):
            fixtures["big_version"] = request.getfixturevalue("big_version")
        if name == "training":
            fixtures.update(model_dir=request.getfixturevalue("tiny_model_dir"),
                            conversations=request.getfixturevalue("chats"))
        if name == "generation":
            fixtures["checkpoint"] = request.getfixturevalue("tiny_checkpoint")
        return KINDS[name](tmp_path=tmp_path, world=world, **fixtures)

    return make


def catch_running(world, model, kind, args, ready, worker, *, attempts=6):
    """Start a job and return it as soon as it runs (and `ready` says it is well under way): a fast job (an
    export, a freeze) may end before it is seen running, then another one is started."""
    for _ in range(attempts):
        job = world.start(model, kind, **args)
        job = wait(job, lambda j: j.status != "queued", 120, f"{kind} to start")
        while job.status == "running" and not ready(job):
            time.sleep(0.01)
            job.refresh_from_db()
        if kind in ENGINES and job.status == "running":
            wait(job, lambda j: engine_processes(worker) or not j.is_active, 120, "the engine to start", tick=0.1)
            job.refresh_from_db()
        if job.status == "running":
            return job
    raise AssertionError(f"no {kind} was seen running in {attempts} attempts (last: {job.status} {job.error})")


@pytest.mark.parametrize("name", list(KINDS))
def test_a_job_whose_worker_is_killed_is_failed_with_the_cause_and_keeps_nothing(world, kind_of, name):
    model, kind, args, next_args, ready, nothing_kept = kind_of(name)
    victim = world.worker("victim")
    for _ in range(3):
        job = catch_running(world, model, kind, args, ready, victim)
        engines = engine_processes(victim)
        # held still, then looked at: a quick job (a freeze) may have committed its end since it was seen running
        world.signal(victim, signal.SIGSTOP)
        job.refresh_from_db()
        if job.status == "running":
            break
        world.signal(victim, signal.SIGCONT)
    assert job.status == "running", f"every {kind} ended before its worker could be killed"

    # when the worker and its pool die at once, mid-run
    world.kill(victim)
    killed_at = time.monotonic()
    rescuer = world.worker("rescuer", beat=True)

    # then, with no page loaded, the job is failed with the cause, and nothing half-written is kept
    job = wait(job, lambda j: j.status != "running", HEARTBEAT_TIMEOUT + REAPER_SECONDS + WORKER_START_SLACK,
               "the reaper")
    assert job.status == "failed", job.error
    assert "stopped sending heartbeats" in job.error and "victim" in job.error
    assert time.monotonic() - killed_at < HEARTBEAT_TIMEOUT + REAPER_SECONDS + WORKER_START_SLACK
    nothing_kept(job)
    if name in ENGINES:
        assert engines, "the engine subprocess was not found"
        deadline = time.monotonic() + 15
        while any(alive(engine) for engine in engines) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(engine) for engine in engines), "an engine outlived its worker"

    # and a new worker takes the next job
    following = wait(world.start(model, kind, **next_args), lambda j: j.is_finished, 240, "the next job")
    assert following.status == "succeeded", following.error
    assert following.worker_name.startswith("rescuer")
    assert rescuer.poll() is None


@pytest.mark.parametrize("name", list(KINDS))
def test_a_running_job_is_cancelled_and_keeps_nothing(world, kind_of, name):
    if name == "freeze" and connection.vendor == "sqlite":
        pytest.skip("SQLite has one writer: a freeze's transaction; a cancel asked meanwhile waits for its commit")
    model, kind, args, _next, ready, nothing_kept = kind_of(name)
    worker = world.worker("worker")
    for _ in range(3):
        job = catch_running(world, model, kind, args, ready, worker)
        # held still while the cancel is asked, so that a quick job cannot end first
        world.signal(worker, signal.SIGSTOP)
        model.objects.filter(pk=job.pk).update(cancel_requested=True)
        world.signal(worker, signal.SIGCONT)
        job = wait(job, lambda j: j.is_finished, 120, "the cancel")
        if job.status != "succeeded":
            break
    assert job.status == "cancelled", job.error
    nothing_kept(job)
    assert worker.poll() is None
