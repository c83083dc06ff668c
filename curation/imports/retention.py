"""Uploaded import files (MEDIA_ROOT/imports/<sha256>/<name>) removed once older than UPLOAD_RETENTION_DAYS, unless
a run still needs them: one queued or running reads it. A finished run keeps its counts, rejected records and
examples; only a re-run of it (the rule report's "re-run with this rule loosened") needs the file again, and is
then told to upload it anew. Leftovers of a broken upload (".upload-*") go by the same age. Celery beat calls
`remove_old_uploads` every hour; `python manage.py remove_old_uploads` does the same by hand."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from celery import shared_task
from django.conf import settings

from curation.models import ImportRun

logger = logging.getLogger(__name__)
ACTIVE = (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING)


def uploads_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def _newest_mtime(path: Path) -> float:
    if path.is_file():
        return path.stat().st_mtime
    times = [child.stat().st_mtime for child in path.rglob("*")] + [path.stat().st_mtime]
    return max(times)


def remove_old_uploads(days: float | None = None, *, now: float | None = None, dry_run: bool = False) -> list[Path]:
    """Remove the upload folders older than `days` (UPLOAD_RETENTION_DAYS; 0: none) that no active run reads;
    returns what was (or, with dry_run, would be) removed."""
    days = settings.UPLOAD_RETENTION_DAYS if days is None else days
    root = uploads_root()
    if not days or days <= 0 or not root.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - days * 86400
    needed = set()
    for file in ImportRun.objects.filter(status__in=ACTIVE).values_list("file", flat=True):
        path = Path(file).resolve()
        if root.resolve() in path.parents:
            needed.add(path.relative_to(root.resolve()).parts[0])
    removed = []
    for entry in sorted(root.iterdir()):
        if entry.name in needed or _newest_mtime(entry) >= cutoff:
            continue
        removed.append(entry)
        if dry_run:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    if removed and not dry_run:
        logger.info("removed %d upload(s) older than %s days from %s", len(removed), days, root)
    return removed


@shared_task(name="curation.remove_old_uploads")
def remove_old_uploads_task():
    return [path.name for path in remove_old_uploads()]
