"""The one way a job is queued, run and ended.

- ``enqueue(job)``: once the transaction that created the row commits, the job goes to its queue; a broker
  that cannot be reached fails the job with that cause, so nothing stays queued silently.
- ``execute(label, pk)``: what the worker's task calls. An atomic claim (queued -> running, attempt + 1), the
  heartbeat, the kind's ``run(job, context)``, and the end written in one place: succeeded, failed with a
  cause a person can read, or cancelled. Whatever a failed or cancelled attempt left is discarded.
- ``cancel(job)``: a queued job is cancelled at once; a running one is asked to stop (its worker sees the flag
  within a heartbeat); a finished one is refused with the reason.
"""
from __future__ import annotations

import logging
import socket

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.broker import broker_address
from core.errors import ConflictError
from core.jobs.context import Cancelled, JobContext, JobFailed, Lost
from core.jobs.kinds import kind_for_label, kind_of

logger = logging.getLogger(__name__)


RUN_JOB_TASK = "core.run_job"  # core/tasks.py: the one task that runs any kind


class JobStateError(ConflictError, ValueError):
    """A verb the job's state does not allow (cancelling a finished job); the message says why (the API: 409)."""


# --- Queueing ----------------------------------------------------------------------------------------------

def enqueue(job):
    """Send `job` to its kind's queue once the current transaction commits (at once outside one)."""
    kind = kind_of(job)

    def send():
        from celery import current_app as app  # config.celery's, made current when the project starts

        try:
            # A broker that is down answers at once (connection refused); two quick retries ride out a blip.
            app.send_task(
                RUN_JOB_TASK, args=[kind.label, job.pk], queue=kind.queue_for(job), retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.3, "interval_max": 0.5},
            )
        except Exception as error:
            logger.exception("%s #%s could not be queued", kind.noun, job.pk)
            cause = (
                f"The task queue is unreachable ({broker_address()}: {error}): the {kind.noun} was not started. "
                "Start it again once the broker is back."
            )
            now = timezone.now()
            if type(job).objects.filter(pk=job.pk, status=job.Status.QUEUED).update(
                status=job.Status.FAILED, error=cause, finished_at=now,
            ):
                job.status, job.error, job.finished_at = job.Status.FAILED, cause, now

    transaction.on_commit(send)
    return job


# --- Running -----------------------------------------------------------------------------------------------

def execute(label, pk, worker_name=""):
    """Claim the queued job `pk` of kind `label`, run it to its end and return it; None when it was not queued
    (cancelled meanwhile, or a redelivered message of a job another worker has)."""
    kind = kind_for_label(label)
    model = kind.model
    now = timezone.now()
    claimed = model.objects.filter(pk=pk, status=model.Status.QUEUED).update(
        status=model.Status.RUNNING, started_at=Coalesce("started_at", Value(now)), heartbeat_at=now,
        finished_at=None, worker_host=socket.gethostname(), worker_name=worker_name or "",
        attempt=F("attempt") + 1, error="", phase="",
    )
    if not claimed:
        logger.info("%s #%s is not queued: nothing to do", kind.noun, pk)
        return None
    job = model.objects.get(pk=pk)
    context = JobContext(job)
    status, error = model.Status.SUCCEEDED, ""
    with context:
        try:
            context.check()
            kind.run(job, context)
        except Cancelled:
            status = model.Status.CANCELLED
        except Lost:
            status = None
        except Exception as exc:
            status, error = model.Status.FAILED, describe_failure(kind, job, exc)
    if status is None:
        logger.warning("%s #%s was ended by the reaper while it ran here; its work is dropped", kind.noun, pk)
        kind.discard_safely(job)
    else:
        finish(kind, job, status, error, context.final_fields())
    job.refresh_from_db()
    return job


def run_here(job):
    """Run a queued job in this process (commands without --async, tests) and return it refreshed."""
    return execute(job._meta.label_lower, job.pk) or type(job).objects.get(pk=job.pk)


def describe_failure(kind, job, exc) -> str:
    if isinstance(exc, (JobFailed, *kind.expected_errors)):
        return str(exc)
    logger.exception("%s #%s failed", kind.noun, job.pk)
    return f"{type(exc).__name__}: {exc}"


def finish(kind, job, status, error="", fields=None):
    """Write the end of this attempt; a failed or cancelled one is discarded in the same transaction. A job
    that ended meanwhile (its work marked it succeeded itself, or the reaper failed it) keeps that end."""
    model = kind.model
    with transaction.atomic():
        ended = model.objects.filter(pk=job.pk, status=model.Status.RUNNING, attempt=job.attempt).update(
            status=status, error=error, finished_at=timezone.now(), heartbeat_at=timezone.now(), **(fields or {}),
        )
        if ended and status != model.Status.SUCCEEDED:
            kind.discard_safely(job)
    return ended


# --- Cancelling --------------------------------------------------------------------------------------------

def cancel(job, **also):
    """Stop `job`: queued, it is cancelled now; running, its worker is asked to stop. `also`: fields to write
    with the request (who asked). Returns the job refreshed; raises JobStateError when it has ended."""
    kind = kind_of(job)
    model = kind.model
    with transaction.atomic():
        if model.objects.filter(pk=job.pk, status=model.Status.QUEUED).update(
            status=model.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now(), **also,
        ):
            kind.discard_safely(job)
            job.refresh_from_db()
            return job
    if not model.objects.filter(pk=job.pk, status=model.Status.RUNNING).update(cancel_requested=True, **also):
        job.refresh_from_db()
        raise JobStateError(f"{kind.noun.capitalize()} #{job.pk} is {job.status}: there is nothing to cancel.")
    job.refresh_from_db()
    return job
