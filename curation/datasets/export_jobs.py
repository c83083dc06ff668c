"""Background exports: a row created in the request, the job's work writing the file with progress."""
from pathlib import Path

from django.conf import settings

from core.jobs.kinds import job_kind
from core.jobs.runner import enqueue, execute
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


def start_export(version, *, fmt, split="", metadata=True, author=None, run_async=True):
    """Queue an export of `version` (the worker picks it up once this transaction commits), or run it here."""
    check_export_request(version, fmt, split)
    job = ExportJob.objects.create(
        version=version, format=fmt, split=split or "", metadata=metadata, created_by=author,
        total=count_items(version, split or None),
    )
    if not run_async:
        return execute(job._meta.label_lower, job.pk)
    return enqueue(job)


def relative_path(job):
    return Path(EXPORT_DIR) / f"job{job.pk}-{file_name(job.version_id, job.format, job.split or None)}"


def job_path(job):
    return Path(settings.MEDIA_ROOT) / job.file


def discard_export(job):
    """A failed or cancelled export leaves no file (write_export removes its partial file as it fails; a
    killed worker's is removed here)."""
    target = Path(settings.MEDIA_ROOT) / relative_path(job)
    partial = target.with_name(f".{target.name}.partial")
    for path in (partial, target):
        if path.is_dir():
            import shutil

            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@job_kind(ExportJob, queue="default", discard=discard_export, expected_errors=(ExportRequestError,))
def run_export(job, context):
    """Write the job's file atomically under MEDIA_ROOT/exports/."""
    relative = relative_path(job)
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    context.progress(0, phase="writing")

    def on_progress(rows):
        context.progress(rows)
        context.check()  # a cancel stops the writing; write_export removes its partial file

    rows = write_export(job.version, job.format, target, split=job.split or None, metadata=job.metadata,
                        on_progress=on_progress)
    context.progress(rows, total=rows, phase="", file=str(relative), size_bytes=target.stat().st_size)
