"""Celery tasks of training, on the `gpu` queue (one task at a time per GPU worker: `-Q gpu -c 1`)."""
import logging

from celery import shared_task
from celery.signals import worker_ready

logger = logging.getLogger(__name__)


# acks_late: the message is acknowledged when the run ends, so a worker lost before it claimed the run hands
# it to another; once claimed (queued -> running), a redelivered message finds nothing queued and returns.
@shared_task(name="training.run", bind=True, acks_late=True)
def run_training(self, training_run_id):
    """Run one queued TrainingRun: the engine subprocess, its progress into the row, cancel, heartbeat."""
    from training.runner import execute_training_run

    run = execute_training_run(training_run_id, worker_name=self.request.hostname or "")
    if run is None:
        return {"training_run": training_run_id, "status": "not queued"}
    return {"training_run": run.pk, "status": run.status}


@worker_ready.connect
def reap_runs_of_a_restarted_worker(sender=None, **kwargs):
    """A worker that starts cannot be running anything: runs it held are dead, and so are runs whose
    heartbeat stopped. Never lets a failure here stop the worker from starting."""
    try:
        from training.services import reap_dead_runs

        reaped = reap_dead_runs(worker_name=getattr(sender, "hostname", None))
        if reaped:
            logger.warning("reaped dead training runs at worker start: %s", ", ".join(f"#{run.pk}" for run in reaped))
    except Exception:
        logger.exception("could not reap dead training runs at worker start")
