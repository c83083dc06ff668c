"""An ImportRun whose worker died does not stay "running" forever: the reaper (core.jobs.reaper) fails it, says
why, and keeps nothing of it; a worker that was only slow finds its run failed and drops its work."""
import functools
import threading
from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from core.jobs.reaper import reap as reap_dead_runs
from curation.imports import ingest
from curation.imports.ingest import start_import
from curation.models import Example, ImportRun, RejectedRecord
from curation.services import get_or_create_source
from curation.sources import jsonl
from tests.curation.imports.builders import lima_rows, qa_rows, write_jsonl, write_posts

pytestmark = pytest.mark.django_db


def running_run(*, quiet_for, beat=True, name="chats.jsonl", rejected=3):
    """A run left "running" by a worker last heard of `quiet_for` ago, with some rejected records."""
    source = get_or_create_source("jsonl", name)
    last = timezone.now() - quiet_for
    run = ImportRun.objects.create(
        source=source, file=f"/data/{name}", status=ImportRun.Status.RUNNING, phase="reading",
        started_at=last - timedelta(minutes=1), heartbeat_at=last if beat else None, read_count=10,
    )
    if not beat:
        ImportRun.objects.filter(pk=run.pk).update(started_at=last)
    RejectedRecord.objects.bulk_create(
        RejectedRecord(import_run=run, external_id=f"r{i}", reason="invalid_conversation", turns=["Q"])
        for i in range(rejected)
    )
    return ImportRun.objects.get(pk=run.pk)


def test_a_run_whose_heartbeat_stopped_is_failed_with_the_cause_and_keeps_nothing():
    run = running_run(quiet_for=timedelta(minutes=5))

    reaped = reap_dead_runs()

    assert [r.pk for r in reaped] == [run.pk]
    run.refresh_from_db()
    assert run.status == "failed" and run.finished_at is not None
    when = run.heartbeat_at.astimezone(dt_timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    assert f"stopped sending heartbeats at {when} UTC" in run.error
    assert "Nothing from this run was kept" in run.error
    assert not RejectedRecord.objects.filter(import_run=run).exists()


def test_a_run_that_never_beat_is_judged_by_its_start():
    run = running_run(quiet_for=timedelta(minutes=5), beat=False)

    assert [r.pk for r in reap_dead_runs()] == [run.pk]
    run.refresh_from_db()
    when = run.started_at.astimezone(dt_timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    assert run.status == "failed" and f"at {when} UTC" in run.error


def test_live_queued_and_finished_runs_are_left_alone():
    live = running_run(quiet_for=timedelta(seconds=30), name="live.jsonl")
    done = running_run(quiet_for=timedelta(hours=2), name="done.jsonl")
    ImportRun.objects.filter(pk=done.pk).update(status=ImportRun.Status.SUCCEEDED, phase="done")
    queued = ImportRun.objects.create(source=live.source, file="/data/later.jsonl")

    assert reap_dead_runs() == []
    assert {r.pk: r.status for r in ImportRun.objects.all()} == {
        live.pk: "running", done.pk: "succeeded", queued.pk: "queued"}
    assert RejectedRecord.objects.filter(import_run=live).count() == 3


def test_the_limit_is_the_job_heartbeat_timeout_setting(settings):
    run = running_run(quiet_for=timedelta(seconds=30))

    assert reap_dead_runs() == []  # 120 s by default
    settings.JOB_HEARTBEAT_TIMEOUT = 10
    assert [r.pk for r in reap_dead_runs()] == [run.pk]
    assert "(limit 10 s)" in ImportRun.objects.get(pk=run.pk).error


def test_a_run_that_beat_since_it_was_read_is_not_reaped(monkeypatch):
    run = running_run(quiet_for=timedelta(minutes=5))
    real_filter = ImportRun.objects.filter

    def beat_first(*args, **kwargs):  # the worker beats between the reaper's read and its update
        if "heartbeat_at" in kwargs:
            ImportRun.objects.all().update(heartbeat_at=timezone.now())
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(ImportRun.objects, "filter", beat_first)
    assert reap_dead_runs() == []
    monkeypatch.undo()
    run.refresh_from_db()
    assert run.status == "running" and RejectedRecord.objects.filter(import_run=run).count() == 3


def test_loading_pages_reaps_nothing_and_a_reaped_run_shows_its_cause(client_of, bob):
    run = running_run(quiet_for=timedelta(minutes=5))
    api = APIClient()
    api.force_authenticate(bob)

    # given a dead run, when people look at it, then nothing changes: reaping is the beat's job, not a page's
    assert api.get(f"/api/imports/{run.pk}/").json()["status"] == "running"
    client_of(bob).get("/imports/")
    client_of(bob).get(f"/imports/{run.pk}/")
    assert ImportRun.objects.get(pk=run.pk).status == "running"

    reap_dead_runs()

    assert api.get(f"/api/imports/{run.pk}/").json()["status"] == "failed"
    page = client_of(bob).get(f"/imports/{run.pk}/").content.decode()
    assert "stopped sending heartbeats" in page and "Nothing from this run was kept" in page


def test_a_slow_worker_reaped_while_sampling_keeps_nothing(tmp_path, monkeypatch):
    path = write_posts(tmp_path / "cooking.stackexchange.com", qa_rows(3) + qa_rows(2, first_id=7, score=1))
    real_select = ingest._select

    def select_then_get_reaped(*args, **kwargs):  # the worker went quiet for too long while sampling
        reap_dead_runs(timeout=0, now=timezone.now() + timedelta(seconds=1))
        return real_select(*args, **kwargs)

    monkeypatch.setattr(ingest, "_select", select_then_get_reaped)
    run = start_import("stackexchange", path, run_async=False)

    assert run.status == "failed" and "stopped sending heartbeats" in run.error
    assert not Example.objects.exists()
    assert not RejectedRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_examples_saved_by_a_worker_reaped_meanwhile_are_rolled_back(tmp_path, monkeypatch):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite: the saving transaction holds the only write lock, so the reaper waits for its end")
    path = write_posts(tmp_path / "cooking.stackexchange.com", qa_rows(3) + qa_rows(2, first_id=7, score=1))
    real_save = ingest._save

    def save_then_get_reaped(*args, **kwargs):  # the reaper, elsewhere, while the examples are being saved
        real_save(*args, **kwargs)
        assert Example.objects.count() == 3  # written, not committed
        reaper = threading.Thread(target=lambda: (reap_dead_runs(timeout=0, now=timezone.now() + timedelta(seconds=5)),
                                                  connection.close()))
        reaper.start()
        reaper.join(timeout=30)

    monkeypatch.setattr(ingest, "_save", save_then_get_reaped)
    run = start_import("stackexchange", path, run_async=False)

    assert run.status == "failed" and "stopped sending heartbeats" in run.error
    assert not Example.objects.exists()
    assert not RejectedRecord.objects.exists()


def test_a_worker_reaped_while_reading_stops_at_its_next_heartbeat(tmp_path, monkeypatch, settings):
    path = write_jsonl(tmp_path / "chats.jsonl", lima_rows(6) + [{"conversations": []}] * 6)
    real_iter_records = jsonl.iter_records
    read = []

    @functools.wraps(real_iter_records)
    def reaped_after_two(*args, **kwargs):
        for record in real_iter_records(*args, **kwargs):
            read.append(record)
            if len(read) == 2:
                reap_dead_runs(timeout=0, now=timezone.now() + timedelta(seconds=1))
            yield record

    monkeypatch.setattr(jsonl, "iter_records", reaped_after_two)
    settings.JOB_HEARTBEAT_SECONDS = 0.0  # a heartbeat at every record
    run = start_import("jsonl", path, run_async=False)

    assert run.status == "failed" and "stopped sending heartbeats" in run.error
    assert len(read) < 12  # it stopped reading
    assert not Example.objects.exists() and not RejectedRecord.objects.exists()


def test_a_finished_import_leaves_nothing_for_the_reaper(tmp_path):
    run = start_import("jsonl", write_jsonl(tmp_path / "chats.jsonl", lima_rows(2)), run_async=False)

    assert run.status == "succeeded" and run.phase == "done" and run.created_count == 2 and run.progress == 1.0
    assert reap_dead_runs(timeout=0, now=timezone.now() + timedelta(minutes=1)) == []
    assert Example.objects.count() == 2
