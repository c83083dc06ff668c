"""The Celery tasks of every job: one task runs any kind, one reaps (Celery beat, and at worker start)."""
import logging
import socket

from celery import shared_task
from celery.signals import worker_ready

logger = logging.getLogger(__name__)


# acks_late: a worker lost before it claimed the job leaves the message to another; once claimed
# (queued -> running), a redelivered message finds nothing queued and returns.
@shared_task(name="core.run_job", bind=True, acks_late=True)
def run_job(self, label, pk):
    from core.jobs.runner import execute

    job = execute(label, pk, worker_name=self.request.hostname or "")
    return {"job": label, "id": pk, "status": job.status if job is not None else "not queued"}


@shared_task(name="core.reap_jobs")
def reap_jobs():
    from core.jobs.reaper import reap

    return [f"{type(job)._meta.label_lower}#{job.pk}" for job in reap()]


@shared_task(name="core.ping")
def ping():
    """A round trip through the broker, a worker and the database: used by tests and health checks."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"pong": True, "worker": socket.gethostname()}


@worker_ready.connect
def reap_at_worker_start(sender=None, **kwargs):
    """A worker that starts runs nothing yet: what it held is dead, and so is what stopped beating. A failure
    here never stops the worker from starting."""
    try:
        from core.jobs.reaper import reap

        reaped = reap(restarted_worker=getattr(sender, "hostname", None))
        if reaped:
            logger.warning("reaped at worker start: %s", ", ".join(f"{job.noun} #{job.pk}" for job in reaped))
    except Exception:
        logger.exception("could not reap dead jobs at worker start")
