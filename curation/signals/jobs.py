"""Signal runs as jobs, split into shards that any number of workers (on any number of hosts) take.

    start_run("embedding")            # a SignalRun over every example without a fresh embedding

The run's job (default queue) picks the examples, cuts them into SIGNALS_SHARD_SIZE shards, queues each shard as
a job of its own (embedding and IFD shards on the gpu queue when SIGNALS_GPU_QUEUE is on), then waits for them:
while it waits it takes queued shards of its own queue itself, so a single worker finishes a run too. It ends
when every shard has: succeeded, or failed / cancelled with the first shard that did (the others are then
cancelled). Cancelling the run cancels its shards; a dead shard worker is reaped like any job, which fails the
run with the reaper's cause. Each shard saves its examples batch by batch, for the text it read, so what a
stopped run finished is kept and the next run covers only the rest.
"""
from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings
from django.db import transaction

from core.jobs.context import Cancelled, JobFailed
from core.jobs.kinds import job_kind
from core.jobs.reaper import reap
from core.jobs.runner import JobStateError, cancel, enqueue, execute, run_here
from curation.signals import compute
from curation.signals.models import SIGNALS, SignalRun, SignalShard

GPU_SIGNALS = ("embedding", "ifd")
WAIT_SECONDS = 0.25  # how often a waiting run looks at its shards


class SignalError(ValueError):
    """A run that cannot start (an unknown signal); the message names the field."""

    def __init__(self, message, field="signal"):
        super().__init__(message)
        self.field = field


def start_run(signal, *, run_async=True, author=None, everything=False):
    """Start a run of `signal` over every example whose value is missing or stale (all of them with
    `everything`). `run_async=False` computes it here, shard after shard (tests, small sets, commands)."""
    if signal not in SIGNALS:
        raise SignalError(f"signal: unknown signal {signal!r}; choose one of {', '.join(SIGNALS)}.")
    run = SignalRun.objects.create(
        signal=signal, model_name=compute.model_name_for(signal), shard_size=max(1, settings.SIGNALS_SHARD_SIZE),
        in_process=not run_async, options={"everything": bool(everything)},
        created_by=author if author is not None and getattr(author, "is_authenticated", False) else None,
    )
    if not run_async:
        return run_here(run)
    return enqueue(run)


def shard_queue(shard) -> str:
    if settings.SIGNALS_GPU_QUEUE and shard.run.signal in GPU_SIGNALS:
        return "gpu"
    return "default"


def cancel_shards(run):
    """A run that failed or was cancelled: its shards that have not ended stop too."""
    for shard in run.shards.filter(status__in=SignalShard.ACTIVE):
        try:
            cancel(shard)
        except JobStateError:  # it ended meanwhile
            pass


def _plan(run, context):
    context.progress(0, phase="planning")
    ids = compute.stale_ids(run.signal, everything=run.options.get("everything", False))
    size = run.shard_size or settings.SIGNALS_SHARD_SIZE
    chunks = [ids[start:start + size] for start in range(0, len(ids), size)]
    with transaction.atomic():
        shards = SignalShard.objects.bulk_create([
            SignalShard(run=run, number=number, example_ids=chunk, total=len(chunk))
            for number, chunk in enumerate(chunks, 1)
        ])
        SignalRun.objects.filter(pk=run.pk).update(shard_count=len(shards), total=len(ids))
    run.shard_count, run.total = len(shards), len(ids)
    context.progress(0, total=len(ids), phase="computing")
    if not run.in_process:
        for shard in SignalShard.objects.filter(run=run):
            enqueue(shard)


@job_kind(SignalRun, queue="default", discard=cancel_shards, expected_errors=(FileNotFoundError,))
def run_signal(run, context):
    if not run.shard_count:
        _plan(run, context)
    label = SignalShard._meta.label_lower
    reaped_at = time.monotonic()
    while True:
        context.check()
        if time.monotonic() - reaped_at > settings.JOB_REAPER_SECONDS:
            # A dead shard must end for the run to end: reap here too, since the reaper's own task may wait in
            # the queue behind this very job (a worker of one process).
            reap()
            reaped_at = time.monotonic()
        shards = list(SignalShard.objects.filter(run=run).order_by("number")
                      .only("pk", "number", "status", "done", "total", "error", "run_id"))
        context.progress(sum(_done(s) for s in shards))
        failed = next((s for s in shards if s.status == s.Status.FAILED), None)
        if failed is not None:
            raise JobFailed(f"Shard {failed.number} of {len(shards)} failed: {failed.error}")
        if any(s.status == s.Status.CANCELLED for s in shards):
            raise Cancelled
        if all(s.status == s.Status.SUCCEEDED for s in shards):
            context.progress(run.total, phase="")
            return
        mine = next((s for s in shards if s.status == s.Status.QUEUED
                     and (run.in_process or shard_queue(s) == "default")), None)
        if mine is not None:
            if run.in_process:
                run_here(mine)
            else:
                execute(label, mine.pk, worker_name=run.worker_name)  # the claim is atomic: one worker has it
            continue
        time.sleep(WAIT_SECONDS)


def _done(shard):
    return shard.total if shard.status == shard.Status.SUCCEEDED else shard.done


@job_kind(SignalShard, queue=shard_queue, expected_errors=(FileNotFoundError,))
def run_shard(shard, context):
    run = shard.run

    def on_batch(done):
        context.progress(done)
        if not SignalRun.objects.filter(pk=run.pk, status__in=SignalRun.ACTIVE, cancel_requested=False).exists():
            raise Cancelled  # the run was cancelled or ended
        context.check()

    context.progress(0, total=len(shard.example_ids), phase=run.signal)
    on_batch(0)
    compute.compute(run.signal, list(shard.example_ids), on_batch=on_batch)
    context.progress(len(shard.example_ids), phase="")


def refresh_stale(signals=("embedding",)):
    """Start a run of each of `signals` that has examples whose value is missing or stale and no run under way
    (Celery beat every SIGNALS_REFRESH_SECONDS: an edited example gets its new embedding without anyone asking).
    Returns the runs started."""
    started = []
    for signal in signals:
        if SignalRun.objects.filter(signal=signal, status__in=SignalRun.ACTIVE).exists():
            continue
        if signal == "length_percentile" or compute.stale_ids(signal):
            started.append(start_run(signal))
    return started


@shared_task(name="curation.refresh_signals")
def refresh_signals_task():
    return [run.pk for run in refresh_stale(tuple(settings.SIGNALS_REFRESH))]
