"""A signal run split into shards that real Celery worker processes share: two workers both take shards and the
run ends when they all have; cancelling the run cancels its shards; a shard whose worker is killed fails the run
with the reaper's cause. Workers and broker are the tests' own (tests/core/test_job_faults.py's World)."""
import pytest

from curation.services import create_examples_bulk, get_or_create_source
from curation.signals.index import vectors_for
from curation.signals.models import SignalRun, SignalShard
from tests.core.test_job_faults import WORKER_START_SLACK, World, wait

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

SHARD_SIZE = 10


@pytest.fixture
def world(tmp_path):
    world = World(tmp_path)
    world.env["SIGNALS_SHARD_SIZE"] = str(SHARD_SIZE)
    world.env["OMP_NUM_THREADS"] = "1"  # two workers on a 2-core machine
    yield world
    world.close()


def some_examples(n):
    source = get_or_create_source("jsonl", "shards")
    rows = [{"turns": [f"Question number {i}: how do I fix problem {i} of my bicycle?",
                       f"Answer {i}: check the chain, then the brakes, then tyre {i}. " * 3]} for i in range(n)]
    return create_examples_bulk(rows, source=source)


def ended(job):
    return job.status in job.FINISHED


def test_two_workers_share_the_shards_of_a_run_and_it_ends_when_all_have(world):
    examples = some_examples(8 * SHARD_SIZE)
    world.worker("a")
    world.worker("b")

    run = world.start(SignalRun, "signals", signal="embedding")
    run = wait(run, ended, 240, "the run's end", tick=0.2)

    assert run.status == SignalRun.Status.SUCCEEDED, run.error
    shards = list(run.shards.all())
    assert len(shards) == run.shard_count == 8
    assert all(shard.status == SignalShard.Status.SUCCEEDED for shard in shards)
    names = {shard.worker_name.split("-")[0] for shard in shards}
    assert names == {"a", "b"}, [shard.worker_name for shard in shards]
    assert run.done == run.total == len(examples)
    assert sorted(vectors_for().ids) == sorted(e.pk for e in examples)  # merged: every example, once


def test_cancelling_a_run_cancels_its_shards(world):
    some_examples(30 * SHARD_SIZE)
    world.worker("a")
    run = world.start(SignalRun, "signals", signal="embedding")
    wait(run, lambda r: r.shards.filter(status=SignalShard.Status.SUCCEEDED).exists(), 120 + WORKER_START_SLACK,
         "a first shard")

    from core.jobs.runner import cancel

    cancel(run)
    run = wait(run, ended, 60, "the cancelled run's end", tick=0.1)

    assert run.status == SignalRun.Status.CANCELLED
    statuses = list(run.shards.values_list("status", flat=True))
    assert not set(statuses) & {SignalShard.Status.QUEUED, SignalShard.Status.RUNNING}
    assert statuses.count(SignalShard.Status.CANCELLED) >= 20  # the run was far from done


def test_a_shard_whose_worker_is_killed_fails_the_run_with_the_cause(world):
    some_examples(12 * SHARD_SIZE)
    workers = {"a": world.worker("a", beat=True), "b": world.worker("b", beat=True)}  # beat runs the reaper
    run = world.start(SignalRun, "signals", signal="embedding")
    run = wait(run, lambda r: r.status != SignalRun.Status.QUEUED, 60, "the run's start")
    other = "b" if run.worker_name.startswith("a-") else "a"  # the worker that does not hold the run

    def running_on_other(r):
        return r.shards.filter(status=SignalShard.Status.RUNNING, worker_name__startswith=f"{other}-").exists()

    wait(run, lambda r: running_on_other(r) or ended(r), 120, f"a shard running on worker {other}", tick=0.01)
    assert running_on_other(run), f"worker {other} never took a shard"
    world.kill(workers[other])
    run = wait(run, ended, 60 + WORKER_START_SLACK, "the run's end", tick=0.2)

    shards = list(run.shards.values_list("number", "status", "worker_name", "error"))
    assert run.status == SignalRun.Status.FAILED, (run.status, run.error, shards)
    killed = run.shards.filter(worker_name__startswith=f"{other}-", status=SignalShard.Status.FAILED).first()
    assert killed is not None, (run.error, shards)
    assert run.error.startswith(f"Shard {killed.number} of {run.shard_count} failed:")
    assert "stopped sending heartbeats" in run.error
    assert not run.shards.filter(status__in=SignalShard.ACTIVE).exists()
