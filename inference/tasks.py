"""Celery tasks of inference. Generation runs on the `gpu` queue (services.enqueue_generation_run sends it there);
each task loads its row and calls the runner."""
from celery import shared_task


# acks_late: a worker lost before it claimed the run leaves the message to another; once claimed
# (queued -> running), a redelivered message finds nothing queued and returns.
@shared_task(name="inference.generate", acks_late=True)
def generate(generation_run_id):
    """Execute one queued GenerationRun: the engine in a subprocess, its responses stored (inference.runner)."""
    from inference.runner import execute_generation_run

    run = execute_generation_run(generation_run_id)
    return {"generation_run": run.pk, "status": run.status}
