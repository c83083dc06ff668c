"""The training pages: who sees and does what, the form with LIMA's defaults, a run's page with its charts,
checkpoints and lineage, and the loss-mask preview."""
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from training.models import Checkpoint, TrainingRun
from training.services import start_training_run

from .runs_helpers import frozen_version

CHATS = [["What is tea?", "A drink made from the leaves of the tea plant."],
         ["Name a prime.", "Seven.", "Another one?", "Eleven."]]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def version(db):
    return frozen_version(CHATS, name="lima v1")


@pytest.fixture
def trained_run(version, tiny_model_dir, media, alice):
    """A run in the middle of its second epoch, as the runner leaves the row."""
    run = start_training_run(version, str(tiny_model_dir), {"epochs": 3}, user=alice, enqueue=False)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING, attempt=1, done=3, total=6, epoch=2, epochs=3,
        heartbeat_at=timezone.now(), started_at=timezone.now() - timedelta(minutes=1), worker_name="gpu@box",
        device="cpu", world_size=1, log_tail="loading the model\n{warning} a line with <b>markup</b>",
        metrics={"step": [1, 2, 3], "epoch": [1, 1, 2], "loss": [5.2, 4.8, 4.1], "lr": [1e-5, 8e-6, 6e-6], "epoch_loss": [5.0]},
        stats={"loss": 4.1, "lr": 6e-6, "tokens_per_s": 1234.5, "eta_s": 12.0, "memory_mb": 700.0},
    )
    Checkpoint.objects.create(run=run, epoch=1, step=2, path=f"{run.output_dir}/checkpoint-epoch-01", metrics={"mean_loss": 5.0})
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/training/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_an_annotator_sees_runs_but_not_the_form_nor_the_buttons(client_of, bob, trained_run, version, tiny_model_dir):
    client = client_of(bob)
    listing = client.get("/training/")
    assert listing.status_code == 200 and f"/training/{trained_run.pk}/" in listing.content.decode()
    assert "New run" not in listing.content.decode()
    page = client.get(f"/training/{trained_run.pk}/").content.decode()
    assert "Cancel training run" not in page and ">Choose<" not in page
    assert client.get("/training/new/").status_code == 403
    response = client.post("/training/new/", {"dataset_version": version.pk, "base_model": str(tiny_model_dir)})
    assert response.status_code == 403
    assert client.post(f"/jobs/training.trainingrun/{trained_run.pk}/cancel/").status_code == 403
    assert client.get(f"/training/mask-preview/?dataset_version={version.pk}").status_code == 403
    assert TrainingRun.objects.count() == 1 and not TrainingRun.objects.get().cancel_requested


@pytest.mark.django_db
def test_an_account_without_a_role_sees_no_training_page(client_of, charlie, trained_run):
    assert client_of(charlie).get("/training/").status_code == 403
    assert client_of(charlie).get(f"/training/{trained_run.pk}/").status_code == 403


@pytest.mark.django_db
def test_the_form_is_filled_with_limas_recipe(client_of, alice, version):
    page = client_of(alice).get("/training/new/").content.decode()
    for name, value in (("epochs", "15"), ("learning_rate", "1e-05"), ("final_learning_rate", "1e-06"),
                        ("adam_beta2", "0.95"), ("weight_decay", "0.1"), ("max_length", "2048"), ("batch_size", "auto")):
        assert re.search(rf'name="{name}" value="{re.escape(value)}"', page), name
    assert "lima v1 (#" in page and "2 train examples" in page


@pytest.mark.django_db
def test_an_admin_starts_a_run_from_the_form_keeping_only_what_she_changed(client_of, alice, version, tiny_model_dir, media):
    form = client_of(alice).get("/training/new/").context["form"]
    data = {name: field.initial for name, field in form.fields.items() if field.initial is not None}
    data.update(dataset_version=version.pk, base_model=str(tiny_model_dir), epochs=2, name="first")
    data = {k: v for k, v in data.items() if v is not False}  # an unticked checkbox is not posted
    response = client_of(alice).post("/training/new/", data)
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/training/{run.pk}/"
    assert run.overrides == {"epochs": 2} and run.name == "first" and run.created_by == alice


@pytest.mark.django_db
def test_a_bad_recipe_value_is_shown_on_its_field_and_nothing_starts(client_of, alice, version, tiny_model_dir):
    response = client_of(alice).post("/training/new/", {"dataset_version": version.pk, "base_model": str(tiny_model_dir),
                                                        "epochs": 0, "batch_size": "many"})
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "epochs" in errors and "batch_size" in errors
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_a_runs_page_shows_progress_charts_checkpoints_log_and_lineage(client_of, alice, trained_run, version):
    page = client_of(alice).get(f"/training/{trained_run.pk}/").content.decode()
    assert f'href="/datasets/{version.pk}/"' in page
    assert 'aria-valuenow="50"' in page and "step <b>3</b> of 6" in page
    loss_path = re.search(r'class="line-chart chart-loss".*?<path class="chart-series" d="([^"]+)"', page, re.S).group(1)
    assert loss_path.startswith("M") and loss_path.count("L") == 2  # three steps
    assert 'class="chart-marker"' in page and "epoch 1: mean loss 5.0000" in page
    assert 'class="line-chart chart-lr"' in page
    assert "checkpoint-epoch-01" in page and ">Choose<" in page and "Cancel training run" in page
    assert "&lt;b&gt;markup&lt;/b&gt;" in page  # the log is text, never markup
    assert 'hx-get="/training/%d/status/"' % trained_run.pk in page


@pytest.mark.django_db
def test_the_status_partial_stops_polling_once_the_run_ended(client_of, alice, trained_run):
    client = client_of(alice)
    assert "hx-trigger" in client.get(f"/training/{trained_run.pk}/status/", HTTP_HX_REQUEST="true").content.decode()
    TrainingRun.objects.filter(pk=trained_run.pk).update(status=TrainingRun.Status.SUCCEEDED, done=6)
    ended = client.get(f"/training/{trained_run.pk}/status/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="run-status"' in ended and "hx-trigger" not in ended.split(">", 1)[0]


@pytest.mark.django_db
def test_choosing_a_checkpoint_from_the_page_marks_it(client_of, alice, trained_run):
    checkpoint = trained_run.checkpoints.get()
    response = client_of(alice).post(f"/training/{trained_run.pk}/choose/", {"checkpoint": checkpoint.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "chosen" in response.content.decode()
    trained_run.refresh_from_db()
    assert trained_run.chosen_checkpoint == checkpoint


@pytest.mark.django_db
def test_the_list_polls_only_while_a_run_is_active(client_of, alice, trained_run):
    client = client_of(alice)
    assert 'hx-trigger="every 2s"' in client.get("/training/").content.decode()
    TrainingRun.objects.filter(pk=trained_run.pk).update(status=TrainingRun.Status.SUCCEEDED)
    assert 'hx-trigger="every 2s"' not in client.get("/training/").content.decode()


@pytest.mark.django_db
def test_the_mask_preview_marks_answers_and_their_eot_as_trained(client_of, alice, version, tiny_model_dir):
    url = f"/training/mask-preview/?dataset_version={version.pk}&base_model={tiny_model_dir}&index=1"
    page = client_of(alice).get(url, HTTP_HX_REQUEST="true").content.decode()
    shown = re.search(r'<div class="tokens"[^>]*>(.*?)</div>', page, re.S).group(1)
    tokens = re.findall(r'<span class="tok([^"]*)"[^>]*>(.*?)</span>', shown, re.S)
    trained = "".join(text for classes, text in tokens if "tok-trained" in classes and "tok-special" not in classes)
    masked = "".join(text for classes, text in tokens if "tok-trained" not in classes and "tok-special" not in classes)
    assert trained == "Seven.Eleven." and masked == "Name a prime.Another one?"
    eots = [classes for classes, text in tokens if "tok-eot" in classes]
    assert len(eots) == 4 and sum("tok-trained" in c for c in eots) == 2  # the answers' EOTs, not the prompts'
    assert "EOT trained after <b>2</b> of 2 answers" in page and "Example 2 of 2" in page


@pytest.mark.django_db
def test_without_a_loadable_tokenizer_the_preview_shows_the_mask_per_utterance(client_of, alice, version):
    page = client_of(alice).get(f"/training/mask-preview/?dataset_version={version.pk}&base_model=/no/such/model").content.decode()
    assert "No tokenizer loaded" in page and "per utterance" in page
    assert re.search(r'<span class="tok tok-trained"[^>]*>A drink made from the leaves of the tea plant\.</span>', page)
