"""Background exports: a row created in the request, a Celery task that writes the file with progress."""
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from curation.datasets.exports import SPLITS, count_items, file_name, write_export
from curation.datasets.formats import EXPORT_FORMATS
from curation.models import DatasetVersion, ExportJob

EXPORT_DIR = "exports"


class ExportRequestError(ValueError):
    def __init__(self, message, field):
        self.field = field
        super().__init__(message)


def check_export_request(version, fmt, split):
    """Refuse an unknown format or split, or a version that is not ready, naming the field."""
    if fmt not in EXPORT_FORMATS:
        raise ExportRequestError(f"Unknown format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}.", "format")
    if split and split not in SPLITS:
        raise ExportRequestError(f"Unknown split {split!r}: choose one of {', '.join(SPLITS)}.", "split")
    if version.status != DatasetVersion.Status.READY:
        raise ExportRequestError(f"Version #{version.pk} is {version.status}, not ready.", "version")


def start_export(version, *, fmt, split="", metadata=True, author=None):
    """Queue an export of `version`; the worker picks it up once this transaction commits."""
    from curation.tasks import export_version

    check_export_request(version, fmt, split)
    job = ExportJob.objects.create(
        version=version, format=fmt, split=split or "", metadata=metadata, created_by=author,
        total_rows=count_items(version, split or None),
    )
    transaction.on_commit(lambda: export_version.delay(job.pk))
    return job


def job_path(job):
    return Path(settings.MEDIA_ROOT) / job.file


def run_export_job(job):
    """Claim a queued job, write its file atomically under MEDIA_ROOT/exports/, record the outcome."""
    claimed = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING, started_at=timezone.now()
    )
    if claimed != 1:
        return ExportJob.objects.get(pk=job.pk)  # another worker has it, or it already ran
    job.refresh_from_db()
    relative = Path(EXPORT_DIR) / f"job{job.pk}-{file_name(job.version_id, job.format, job.split or None)}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)

    def progress(rows):
        ExportJob.objects.filter(pk=job.pk).update(rows_written=rows)

    try:
        rows = write_export(
            job.version, job.format, target, split=job.split or None, metadata=job.metadata, on_progress=progress
        )
    except Exception as error:  # the job row carries the failure to the page; the worker stays up
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=f"{type(error).__name__}: {error}", finished_at=timezone.now()
        )
    else:
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.SUCCEEDED, rows_written=rows, file=str(relative),
            size_bytes=target.stat().st_size, finished_at=timezone.now(),
        )
    job.refresh_from_db()
    return job
