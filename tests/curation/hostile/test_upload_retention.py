"""Uploads older than UPLOAD_RETENTION_DAYS are removed unless a queued or running run reads them."""
import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from curation.imports.ingest import save_upload
from curation.imports.retention import remove_old_uploads, remove_old_uploads_task
from curation.models import ImportRun
from curation.services import get_or_create_source

pytestmark = pytest.mark.django_db
DAY = 86400


def upload(name, text, age_days):
    path = save_upload(SimpleUploadedFile(name, text.encode()))
    then = time.time() - age_days * DAY
    os.utime(path, (then, then))
    os.utime(path.parent, (then, then))
    return path


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.UPLOAD_RETENTION_DAYS = 14
    return tmp_path / "media" / "imports"


def run_of(path, status):
    source = get_or_create_source("jsonl", path.name)
    return ImportRun.objects.create(source=source, file=str(path), status=status)


def test_old_uploads_go_unless_an_active_run_reads_them(media):
    old = upload("old.jsonl", "old\n", 20)
    young = upload("young.jsonl", "young\n", 3)
    queued = upload("queued.jsonl", "queued\n", 30)
    running = upload("running.jsonl", "running\n", 30)
    done = upload("done.jsonl", "done\n", 30)
    run_of(queued, ImportRun.Status.QUEUED)
    run_of(running, ImportRun.Status.RUNNING)
    finished = run_of(done, ImportRun.Status.SUCCEEDED)
    leftover = media / ".upload-abc"
    leftover.write_bytes(b"half")
    os.utime(leftover, (time.time() - 20 * DAY,) * 2)

    assert {p.name for p in remove_old_uploads(dry_run=True)} == {old.parent.name, done.parent.name, leftover.name}
    assert old.exists()
    removed = remove_old_uploads_task()

    assert sorted(removed) == sorted([old.parent.name, done.parent.name, leftover.name])
    assert not old.exists() and not done.parent.exists() and not leftover.exists()
    assert young.exists() and queued.exists() and running.exists()
    finished.refresh_from_db()
    assert finished.status == ImportRun.Status.SUCCEEDED  # the run and its counts stay


def test_zero_days_keeps_everything_and_the_command_takes_days(media, settings, capsys):
    path = upload("a.jsonl", "a\n", 400)
    settings.UPLOAD_RETENTION_DAYS = 0
    assert remove_old_uploads() == []
    call_command("remove_old_uploads", "--days", "30")
    assert "1 upload(s) removed." in capsys.readouterr().out
    assert not path.exists()


def test_beat_runs_it_hourly(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["remove-old-uploads"]
    assert entry["task"] == "curation.remove_old_uploads"
    from celery import current_app

    assert "curation.remove_old_uploads" in current_app.tasks


def test_a_re_run_of_a_removed_upload_asks_for_it_again(media):
    from curation.imports.ingest import ImportOptionError
    from curation.imports.rules import rerun_loosened

    path = upload("chats.jsonl", "x\n", 30)
    run = run_of(path, ImportRun.Status.SUCCEEDED)
    remove_old_uploads()
    with pytest.raises(ImportOptionError, match="chats.jsonl is no longer on the server .*upload it again"):
        rerun_loosened(run, "duplicate_row", None)
