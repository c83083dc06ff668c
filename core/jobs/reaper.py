"""The reaper: a running job whose worker stopped beating is dead. Celery beat runs it every
JOB_REAPER_SECONDS, and every worker runs it as it starts (a worker that starts holds nothing: jobs it held
are dead). Never a side effect of loading a page.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from core.jobs.kinds import KINDS

logger = logging.getLogger(__name__)


def reap(*, now=None, timeout=None, restarted_worker=None):
    """End every running job silent for longer than `timeout` seconds (JOB_HEARTBEAT_TIMEOUT), and every job
    `restarted_worker` (a Celery node name that just started) held: failed with the cause, or cancelled when a
    cancel had been asked. Returns the jobs reaped."""
    now = now or timezone.now()
    timeout = settings.JOB_HEARTBEAT_TIMEOUT if timeout is None else timeout
    cutoff = now - timedelta(seconds=timeout)
    reaped = []
    for kind in list(KINDS.values()):
        model = kind.model
        silent = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        if restarted_worker:
            silent |= Q(worker_name=restarted_worker)
        for job in model.objects.filter(silent, status=model.Status.RUNNING):
            if _reap_one(kind, job, now, timeout, restarted=bool(restarted_worker) and job.worker_name == restarted_worker):
                reaped.append(job)
    return reaped


def _reap_one(kind, job, now, timeout, restarted):
    model = kind.model
    worker = job.worker_name or job.worker_host or "(unknown)"
    if restarted:
        cause = f"The worker {worker} restarted while running this {kind.noun}: it had died."
    else:
        last = (job.heartbeat_at or job.started_at).astimezone(dt_timezone.utc)
        cause = (
            f"The worker {worker} stopped sending heartbeats at {last:%Y-%m-%d %H:%M:%S} UTC (limit {timeout:g} s): "
            "it died, was killed or lost the database."
        )
    cause += getattr(model, "reaped_note", "")
    status = model.Status.CANCELLED if job.cancel_requested else model.Status.FAILED
    # Only if it did not beat (or end) since we looked.
    guard = {} if restarted else {"heartbeat_at": job.heartbeat_at}
    try:
        with transaction.atomic():
            updated = model.objects.filter(pk=job.pk, status=model.Status.RUNNING, attempt=job.attempt, **guard).update(
                status=status, error="" if status == model.Status.CANCELLED else cause, finished_at=now,
            )
            if updated:
                kind.discard_safely(job)
    except OperationalError:  # SQLite: its worker holds the write lock (a long saving transaction): it is alive
        logger.info("%s #%s looks silent but the database is busy: not reaped", kind.noun, job.pk)
        return False
    if updated:
        logger.warning("%s #%s reaped: %s", kind.noun, job.pk, cause)
    return bool(updated)
