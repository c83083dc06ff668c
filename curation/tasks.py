"""Celery tasks of curation, on the `default` queue. Each loads its row and calls a service."""
import socket

from celery import shared_task


@shared_task(name="curation.ping")
def ping():
    """A round trip through the broker, a worker and the database: used by health checks and tests."""
    from curation.models import Example

    return {"pong": True, "worker": socket.gethostname(), "examples": Example.objects.count()}


@shared_task(name="curation.run_import")
def run_import(import_run_id):
    """Execute one queued ImportRun: stream, clean, filter, sample and upsert (curation.imports.ingest)."""
    from curation.imports.ingest import run_import as execute
    from curation.models import ImportRun

    run = execute(ImportRun.objects.get(pk=import_run_id))
    return {"import_run": run.pk, "status": run.status}


@shared_task(name="curation.export_version")
def export_version(export_job_id):
    """Write one queued ExportJob's file under MEDIA_ROOT (curation.datasets.export_jobs)."""
    from curation.datasets.export_jobs import run_export_job
    from curation.models import ExportJob

    job = run_export_job(ExportJob.objects.get(pk=export_job_id))
    return {"export_job": job.pk, "status": job.status}
