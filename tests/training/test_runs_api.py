"""The REST API of training runs: who may do what, starting with LIMA's recipe and overrides, cancel,
resume and choosing a checkpoint. No worker here: runs stay queued unless a test moves them."""
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from curation.models import DatasetVersion
from training.models import Checkpoint, TrainingRun
from training.services import start_training_run

from .runs_helpers import frozen_version

CHATS = [["What is tea?", "A drink made from the leaves of the tea plant."], ["Name a prime.", "Seven."]]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def version(db):
    return frozen_version(CHATS)


@pytest.fixture
def api_as():
    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client
    return make


@pytest.fixture
def queued_run(version, tiny_model_dir, media, alice):
    return start_training_run(version, str(tiny_model_dir), {"epochs": 2}, user=alice, enqueue=False)


@pytest.mark.django_db
def test_anonymous_calls_are_told_to_authenticate(version, tiny_model_dir):
    client = APIClient()
    assert client.get("/api/training-runs/").status_code == 401
    response = client.post("/api/training-runs/", {"dataset_version": version.pk, "base_model": str(tiny_model_dir)}, format="json")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Token")
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_an_annotator_reads_runs_but_cannot_start_cancel_resume_or_choose(api_as, bob, queued_run, version, tiny_model_dir):
    client = api_as(bob)
    assert client.get("/api/training-runs/").status_code == 200
    assert client.get(f"/api/training-runs/{queued_run.pk}/").status_code == 200
    assert client.post("/api/training-runs/", {"dataset_version": version.pk, "base_model": str(tiny_model_dir)},
                       format="json").status_code == 403
    for verb in ("cancel", "resume", "choose-checkpoint"):
        assert client.post(f"/api/training-runs/{queued_run.pk}/{verb}/", {}, format="json").status_code == 403
    assert TrainingRun.objects.get().status == TrainingRun.Status.QUEUED


@pytest.mark.django_db
def test_an_account_without_a_role_sees_no_run(api_as, charlie, queued_run):
    assert api_as(charlie).get("/api/training-runs/").status_code == 403
    assert api_as(charlie).get(f"/api/training-runs/{queued_run.pk}/").status_code == 403


@pytest.mark.django_db
def test_an_admin_starts_a_run_with_lima_defaults_and_her_overrides(alice, version, tiny_model_dir, media,
                                                                    django_capture_on_commit_callbacks):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    with django_capture_on_commit_callbacks() as sent:
        response = client.post("/api/training-runs/", {
            "dataset_version": version.pk, "base_model": str(tiny_model_dir), "name": "tiny",
            "recipe": {"epochs": "3", "batch_size": 4},
        }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    run = TrainingRun.objects.get(pk=body["id"])
    assert len(sent) == 1  # enqueued for the gpu queue once the row is committed
    assert (run.status, run.name, run.created_by, run.dataset_version) == ("queued", "tiny", alice, version)
    assert run.overrides == {"epochs": 3, "batch_size": 4}
    assert run.recipe["epochs"] == 3 and run.recipe["learning_rate"] == 1e-5 and run.recipe["adam_beta2"] == 0.95
    assert run.train_examples == 2 and run.output_dir == str(media.resolve() / "training" / str(run.pk))
    assert body["status"] == "queued" and body["checkpoints"] == [] and body["id"] == run.pk


@pytest.mark.django_db
@pytest.mark.parametrize("payload, field, words", [
    ({"recipe": {"epoch": 3}}, "recipe", "did you mean 'epochs'"),
    ({"recipe": {"learning_rate": "fast"}}, "recipe", "learning_rate"),
    ({"base_model": "/no/such/model"}, "base_model", "no such model folder"),
])
def test_a_bad_start_request_is_refused_naming_the_field(api_as, alice, version, tiny_model_dir, media, payload, field, words):
    data = {"dataset_version": version.pk, "base_model": str(tiny_model_dir), **payload}
    response = api_as(alice).post("/api/training-runs/", data, format="json")
    assert response.status_code == 400
    assert words in " ".join(response.json()[field])
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_a_version_that_is_not_frozen_cannot_be_trained_on(api_as, alice, tiny_model_dir, media):
    freezing = DatasetVersion.objects.create(name="half", status=DatasetVersion.Status.FREEZING)
    response = api_as(alice).post("/api/training-runs/", {"dataset_version": freezing.pk, "base_model": str(tiny_model_dir)},
                                  format="json")
    assert response.status_code == 400 and "only a ready (frozen) version" in response.json()["dataset_version"][0]


@pytest.mark.django_db
def test_cancelling_a_queued_run_ends_it_at_once_and_a_second_cancel_conflicts(api_as, alice, queued_run):
    client = api_as(alice)
    response = client.post(f"/api/training-runs/{queued_run.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    queued_run.refresh_from_db()
    assert queued_run.cancel_requested and queued_run.cancel_requested_by == alice and queued_run.finished_at
    again = client.post(f"/api/training-runs/{queued_run.pk}/cancel/")
    assert again.status_code == 409 and "nothing to cancel" in again.json()["detail"]


@pytest.mark.django_db
def test_resume_queues_a_cancelled_run_again_and_refuses_a_queued_one(api_as, alice, queued_run,
                                                                      django_capture_on_commit_callbacks):
    client = api_as(alice)
    assert client.post(f"/api/training-runs/{queued_run.pk}/resume/").status_code == 409
    client.post(f"/api/training-runs/{queued_run.pk}/cancel/")
    with django_capture_on_commit_callbacks() as sent:
        response = client.post(f"/api/training-runs/{queued_run.pk}/resume/")
    assert response.status_code == 200 and response.json()["status"] == "queued"
    queued_run.refresh_from_db()
    assert queued_run.resume_requested and not queued_run.cancel_requested and len(sent) == 1


@pytest.mark.django_db
def test_an_admin_chooses_one_of_the_runs_checkpoints_and_only_its_own(api_as, alice, queued_run, version, tiny_model_dir):
    first = Checkpoint.objects.create(run=queued_run, epoch=1, step=2, path="/x/checkpoint-epoch-01", metrics={"mean_loss": 2.0})
    other_run = start_training_run(version, str(tiny_model_dir), enqueue=False)
    foreign = Checkpoint.objects.create(run=other_run, epoch=1, step=2, path="/y/checkpoint-epoch-01")
    client = api_as(alice)
    refused = client.post(f"/api/training-runs/{queued_run.pk}/choose-checkpoint/", {"checkpoint": foreign.pk}, format="json")
    assert refused.status_code == 400
    response = client.post(f"/api/training-runs/{queued_run.pk}/choose-checkpoint/", {"checkpoint": first.pk}, format="json")
    assert response.status_code == 200 and response.json()["chosen_checkpoint"] == first.pk
    assert response.json()["checkpoints"][0]["chosen"] is True
    listed = client.get("/api/checkpoints/", {"chosen": "true"}).json()["results"]
    assert [c["id"] for c in listed] == [first.pk]
    assert [c["path"] for c in client.get(f"/api/training-runs/{other_run.pk}/checkpoints/").json()] == ["/y/checkpoint-epoch-01"]
