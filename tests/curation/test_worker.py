"""A task goes through the broker (Redis in CI, the filesystem broker otherwise) to a real worker process."""
import time

import pytest

from core.tasks import ping
from curation.models import Example
from curation.services import create_example

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_task_round_trips_through_a_real_worker(celery_worker):
    result = ping.delay().get(timeout=30)

    assert result["pong"] is True
    assert celery_worker.poll() is None


def test_a_job_runs_on_the_worker_against_the_same_database(celery_worker, tmp_path):
    from curation.imports.ingest import start_import
    from tests.curation.imports.builders import import_finished, lima_rows, write_jsonl

    create_example(turns=["Q?", "A."])
    run = start_import("jsonl", write_jsonl(tmp_path / "chats.jsonl", lima_rows(3)))

    run = import_finished(run)

    assert run.status == "succeeded" and run.created_count == 3 and run.worker_name.startswith("test-")
    assert Example.objects.count() == 4


def wait_for_end(job, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.2)
    raise AssertionError(f"{job} did not end within {timeout} s")
