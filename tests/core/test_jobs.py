"""The one lifecycle (core.jobs): a job is claimed once, ends once with a readable cause, is cancelled the same
way whatever its kind, and a broker that cannot be reached fails it at once instead of leaving it queued."""
import pytest
from rest_framework.test import APIClient

from config.celery import app
from core.jobs.kinds import KINDS, kind_of
from core.jobs.runner import JobStateError, cancel, enqueue, execute, run_here
from curation.datasets.export_jobs import start_export
from curation.datasets.freeze_jobs import start_freeze_job
from curation.datasets.versions import Selection, freeze_version
from curation.imports.ingest import start_import
from curation.models import ExportJob, FreezeJob, ImportRun
from curation.services import create_example
from inference.models import GenerationRun
from tests.curation.imports.builders import lima_rows, write_jsonl
from training.models import TrainingRun

pytestmark = pytest.mark.django_db


def test_every_long_task_is_a_registered_kind_of_job():
    assert {ImportRun, ExportJob, FreezeJob, TrainingRun, GenerationRun} <= {kind.model for kind in KINDS.values()}
    assert kind_of(TrainingRun).queue == "gpu"
    # a generation run asks the gpu queue for a local checkpoint, the default one when an endpoint answers it
    generation_queue = kind_of(GenerationRun).queue
    assert generation_queue(GenerationRun(endpoint_id=None)) == "gpu"
    assert generation_queue(GenerationRun(endpoint_id=1)) == "default"
    assert kind_of(ImportRun).queue == kind_of(ExportJob).queue == kind_of(FreezeJob).queue == "default"


def test_a_job_runs_once_and_a_second_claim_finds_nothing(tmp_path):
    run = start_import("jsonl", write_jsonl(tmp_path / "a.jsonl", lima_rows(2)), run_async=False)

    assert (run.status, run.attempt, run.done, run.total) == ("succeeded", 1, 2, 2)
    assert run.started_at <= run.finished_at and run.worker_host
    assert execute("curation.importrun", run.pk) is None  # a redelivered message: nothing queued any more


def test_a_failure_is_recorded_in_words_and_the_job_keeps_nothing(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"conversations": ["Hi?", "Hello."]}\n{not json\n')

    run = start_import("jsonl", bad, run_async=False)

    assert run.status == "failed" and "bad.jsonl" in run.error and "line 2" in run.error
    assert not run.rejected_records.exists() and not run.examples.exists()


def test_a_queued_job_is_cancelled_at_once_and_never_starts(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    create_example(turns=["Q?", "A."], status="approved", split="train")
    job = start_export(freeze_version("v1").version, fmt="lima")

    job = cancel(job)

    assert job.status == "cancelled" and job.cancel_requested and job.finished_at
    assert run_here(job).status == "cancelled" and job.started_at is None
    with pytest.raises(JobStateError, match="is cancelled: there is nothing to cancel"):
        cancel(job)


def test_every_kind_is_cancelled_through_the_same_api_action(alice, tmp_path):
    create_example(turns=["Q?", "A."], status="approved", split="train")
    version = freeze_version("v1").version
    jobs = {
        "imports": start_import("jsonl", write_jsonl(tmp_path / "a.jsonl", lima_rows(2))),
        "exports": start_export(version, fmt="lima"),
        "freeze-jobs": start_freeze_job("later", selection=Selection()),
        "generation-runs": GenerationRun.objects.create(name="queued"),
    }
    client = APIClient()
    client.force_authenticate(alice)
    for route, job in jobs.items():
        answer = client.post(f"/api/{route}/{job.pk}/cancel/")
        assert answer.status_code == 200 and answer.json()["status"] == "cancelled", (route, answer.content)
        again = client.post(f"/api/{route}/{job.pk}/cancel/")
        assert again.status_code == 409 and "nothing to cancel" in again.json()["detail"]


def test_an_annotator_cannot_cancel_a_job(bob, alice, tmp_path, client_of):
    run = start_import("jsonl", write_jsonl(tmp_path / "a.jsonl", lima_rows(2)), user=alice)
    client = APIClient()
    client.force_authenticate(bob)

    assert client.post(f"/api/imports/{run.pk}/cancel/").status_code == 403
    assert client_of(bob).post(f"/jobs/curation.importrun/{run.pk}/cancel/").status_code == 403
    assert ImportRun.objects.get(pk=run.pk).status == "queued"


def test_the_cancel_button_stops_any_kind_and_comes_back_to_the_page(client_of, alice, tmp_path):
    run = start_import("jsonl", write_jsonl(tmp_path / "a.jsonl", lima_rows(2)), user=alice)
    page = client_of(alice).get(f"/imports/{run.pk}/").content.decode()
    assert f'action="/jobs/curation.importrun/{run.pk}/cancel/"' in page

    answer = client_of(alice).post(f"/jobs/curation.importrun/{run.pk}/cancel/", {"next": f"/imports/{run.pk}/"})

    assert answer.status_code == 302 and answer["Location"] == f"/imports/{run.pk}/"
    assert ImportRun.objects.get(pk=run.pk).status == "cancelled"
    outside = client_of(alice).post(f"/jobs/curation.importrun/{run.pk}/cancel/", {"next": "https://evil.example/"})
    assert outside["Location"] == "/"


# --- A broker nobody answers at -------------------------------------------------------------------------

@pytest.fixture
def unreachable_broker():
    """The app's producer pointed at a port where nothing listens: a real connection, refused."""
    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.broker_url, app.conf.broker_transport_options = "redis://:secret@127.0.0.1:9/0", {}
    _drop_connections()
    yield
    app.conf.broker_url, app.conf.broker_transport_options = saved
    _drop_connections()


def _drop_connections():
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


def test_an_unreachable_broker_fails_every_kind_at_once_with_the_queues_message(
        unreachable_broker, tmp_path, alice, tiny_model_dir, chats, django_capture_on_commit_callbacks):
    from tests.training.runs_helpers import frozen_version
    from training.services import start_training_run

    create_example(turns=["Q?", "A."], status="approved", split="dev")
    version = freeze_version("v1").version
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    with django_capture_on_commit_callbacks(execute=True):
        jobs = [
            start_import("jsonl", write_jsonl(tmp_path / "a.jsonl", lima_rows(2)), user=alice),
            start_export(version, fmt="lima"),
            start_freeze_job("later", selection=Selection()),
            start_training_run(frozen_version(chats), str(tiny_model_dir)),
            enqueue(GenerationRun.objects.create(name="baseline", dataset_version=version, split="dev",
                                                 model_path=str(model_dir))),
        ]

    for job in jobs:
        stored = type(job).objects.get(pk=job.pk)
        assert (job.status, stored.status) == ("failed", "failed"), job
        assert stored.error.startswith("The task queue is unreachable (redis://:**@127.0.0.1:9/0")
        assert "was not started" in stored.error and "secret" not in stored.error
    client = APIClient()
    client.force_authenticate(alice)
    shown = client.get(f"/api/imports/{jobs[0].pk}/").json()
    assert shown["status"] == "failed" and "task queue is unreachable" in shown["error"]
    training_page = APIClient()
    training_page.force_authenticate(alice)
    assert "task queue is unreachable" in training_page.get(f"/api/training-runs/{jobs[3].pk}/").json()["error"]

