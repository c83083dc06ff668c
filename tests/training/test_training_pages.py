"""The training pages: who sees and does what, the form with LIMA's defaults, a run's page with its charts,
checkpoints and lineage, and the loss-mask preview."""
import html
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


@pytest.fixture
def reported_run(trained_run):
    """The run as the runner leaves it once the engine said what it made of the data and wrote a few checkpoints."""
    TrainingRun.objects.filter(pk=trained_run.pk).update(
        data_report={"examples": 9, "examples_by_source": {"wikihow": 3, "stackexchange": 6}, "trimmed": 2,
                     "trimmed_by_source": {"wikihow": 2}, "cut": 1, "cut_by_source": {"wikihow": 1}, "dropped": 1,
                     "dropped_by_source": {"stackexchange": 1},
                     "source_token_share": {"wikihow": 0.5012, "stackexchange": 0.4988}},
        resume_point={"epoch": 2, "step": 3, "path": f"{trained_run.output_dir}/resume-step-000003", "bytes": 3_600_000},
    )
    Checkpoint.objects.filter(run=trained_run).update(bytes=1_200_000, dtype="bfloat16")
    Checkpoint.objects.create(run=trained_run, epoch=5, step=10, path=f"{trained_run.output_dir}/checkpoint-epoch-05", bytes=1_200_000)
    trained_run.refresh_from_db()
    return trained_run


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
    assert "Cancel training run" not in page and ">Choose" not in page
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
def test_the_recipes_text_fields_are_choices_and_their_values_reach_the_overrides(client_of, alice, version, tiny_model_dir, media):
    page = client_of(alice).get("/training/new/").content.decode()
    for name, values in (("overlong", ["cut", "drop"]), ("gradient_checkpointing", ["auto", "true", "false", "selective"]),
                         ("packing", ["auto", "true", "false"]), ("bf16", ["auto", "true", "false"])):
        select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
        assert re.findall(r'value="([^"]*)"', select) == values, name
    assert re.search(r'<option value="cut" selected>', page)
    response = client_of(alice).post("/training/new/", {
        "dataset_version": version.pk, "base_model": str(tiny_model_dir), "overlong": "drop",
        "gradient_checkpointing": "selective", "packing": "true", "bf16": "auto", "length_grouping": "on",
    })
    assert response.status_code == 302, response.context["form"].errors
    assert TrainingRun.objects.get().overrides == {"overlong": "drop", "gradient_checkpointing": "selective", "packing": True}


@pytest.fixture
def model_dirs(settings, tmp_path, tiny_model_dir):
    """var/models/tiny-demo and a MODEL_DIRS folder holding one more model (and a folder that is not one)."""
    import shutil

    settings.VAR_DIR = tmp_path / "var"
    tiny = shutil.copytree(tiny_model_dir, tmp_path / "var" / "models" / "tiny-demo")
    other = shutil.copytree(tiny_model_dir, tmp_path / "shelf" / "my-llama")
    (tmp_path / "shelf" / "notes").mkdir()
    settings.MODEL_DIRS = [str(tmp_path / "shelf")]
    return tiny.resolve(), other.resolve()


@pytest.mark.django_db
def test_the_form_offers_the_local_models_and_proposes_the_tiny_one(client_of, alice, version, model_dirs):
    tiny, other = model_dirs
    page = client_of(alice).get("/training/new/").content.decode()
    picker = re.search(r'<select name="base_model_choice"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'value="([^"]*)"', picker) == [str(tiny), str(other), ""]
    assert f'<option value="{tiny}" selected>' in picker and "notes" not in picker
    # the loss-mask preview reads the picked model's tokenizer
    preview = client_of(alice).get(f"/training/mask-preview/?dataset_version={version.pk}&base_model=&base_model_choice={other}")
    assert "No tokenizer loaded" not in preview.content.decode() and "tok-trained" in preview.content.decode()


@pytest.mark.django_db
def test_a_picked_model_trains_unless_a_path_is_typed(client_of, alice, version, model_dirs, tiny_model_dir, media):
    tiny, other = model_dirs
    client = client_of(alice)
    # given the picker alone
    assert client.post("/training/new/", {"dataset_version": version.pk, "base_model_choice": str(other)}).status_code == 302
    # given the picker and a typed path: the path
    assert client.post("/training/new/", {"dataset_version": version.pk, "base_model_choice": str(tiny),
                                          "base_model": str(tiny_model_dir)}).status_code == 302
    assert [run.base_model for run in TrainingRun.objects.order_by("pk")] == [str(other), str(tiny_model_dir.resolve())]
    # neither, or a folder that is not offered: refused
    refused = client.post("/training/new/", {"dataset_version": version.pk, "base_model_choice": ""})
    assert refused.status_code == 422 and "Choose a model in the list" in refused.content.decode()
    assert client.post("/training/new/", {"dataset_version": version.pk, "base_model_choice": "/etc"}).status_code == 422
    assert TrainingRun.objects.count() == 2


@pytest.mark.django_db
def test_a_batch_larger_than_the_train_split_is_warned_about(client_of, alice, version, tiny_model_dir, media):
    client = client_of(alice)
    # LIMA's auto batch (64 below 50B parameters) against 2 train examples
    page = html.unescape(client.get("/training/new/").content.decode())
    assert "The batch of 64 (auto: LIMA's 64 for models under 50B parameters) is larger than the 2 train examples of lima v1" in page
    # the warning follows the values as they change
    check = f"/training/batch-check/?dataset_version={version.pk}&batch_size="
    assert "batch-warning" not in client.get(check + "2", HTTP_HX_REQUEST="true").content.decode()
    assert "The batch of 3 is larger" in client.get(check + "3", HTTP_HX_REQUEST="true").content.decode()
    assert client_of(alice).get(check + "3").status_code == 200
    # and it is said again once the run is started (it starts: a warning, not a refusal)
    response = client.post("/training/new/", {"dataset_version": version.pk, "base_model": str(tiny_model_dir), "batch_size": 8}, follow=True)
    assert response.status_code == 200 and "The batch of 8 is larger than the 2 train examples" in response.content.decode()


@pytest.mark.django_db
def test_the_batch_check_is_for_those_who_may_start_runs(client_of, bob, version):
    assert client_of(bob).get(f"/training/batch-check/?dataset_version={version.pk}").status_code == 403


@pytest.mark.django_db
def test_the_quick_demo_preset_fills_in_its_recipe_and_says_what_to_expect(client_of, alice, version, model_dirs, media):
    from training.demo import QUICK_DEMO

    client = client_of(alice)
    response = client.get("/training/new/?preset=demo")
    page = html.unescape(response.content.decode())
    assert "Quick demo (not LIMA's recipe)" in page and "6.24 to 4.46" in page
    form = response.context["form"]
    data = {name: field.initial for name, field in form.fields.items() if field.initial is not None}
    data = {k: v for k, v in data.items() if v is not False}
    data["dataset_version"] = version.pk
    assert client.post("/training/new/", data).status_code == 302
    run = TrainingRun.objects.get()
    assert run.overrides == QUICK_DEMO and run.name == "Quick demo" and run.base_model == str(model_dirs[0])


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
    assert 'class="chart-dot"' in page and "epoch 1: mean loss 5.0000" in page
    assert 'class="line-chart chart-lr"' in page
    assert "checkpoint-epoch-01" in page and ">Choose…<" in page and "Cancel training run" in page
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
    response = client_of(alice).post(f"/training/{trained_run.pk}/choose/", {"checkpoint": checkpoint.pk, "confirm": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and '<span class="badge badge-succeeded">chosen</span>' in response.content.decode()
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


@pytest.mark.django_db
def test_a_runs_page_shows_each_sources_share_of_the_trained_tokens_and_what_was_cut(client_of, bob, reported_run):
    page = html.unescape(client_of(bob).get(f"/training/{reported_run.pk}/").content.decode())
    rows = re.findall(r'<tr>\s*<th scope="row">(\w+)</th>\s*<td class="num">(\d+)</td>.*?<span class="num">([\d.]+) %</span></td>'
                      r'\s*<td class="num">([^<]+)</td>\s*<td class="num">([^<]+)</td>\s*<td class="num">([^<]+)</td>', page, re.S)
    assert rows == [("wikihow", "3", "50.1", "2", "1", "—"), ("stackexchange", "6", "49.9", "—", "—", "1")]
    assert "2 trimmed to max_length 2048" in page and "1 of them with an answer cut mid-way, trained without an EOT" in page
    assert "1 left out (overlong = drop)" in page


@pytest.mark.django_db
def test_a_runs_page_shows_its_disk_use_checkpoints_and_resume_point_apart(client_of, alice, reported_run):
    page = html.unescape(client_of(alice).get(f"/training/{reported_run.pk}/").content.decode())
    assert "Disk use: 5.7\xa0MB" in page  # 2 × 1.2e6 + 3.6e6 bytes, in MiB as filesizeformat counts
    assert "2 epoch checkpoints (2.3\xa0MB, weights only" in page
    assert "the resume point of step 3 (3.4\xa0MB: fp32 weights and the optimizer" in page
    assert "bfloat16" in page


@pytest.mark.django_db
def test_resume_says_the_step_it_continues_from(client_of, alice, reported_run, django_capture_on_commit_callbacks):
    TrainingRun.objects.filter(pk=reported_run.pk).update(status=TrainingRun.Status.FAILED)
    client = client_of(alice)
    assert ">Resume from step 3</button>" in client.get(f"/training/{reported_run.pk}/").content.decode()
    with django_capture_on_commit_callbacks():
        response = client.post(f"/training/{reported_run.pk}/resume/", follow=True)
    assert "Queued again: it continues from step 3." in response.content.decode()
    # without a resume point, a resume starts over and says so
    TrainingRun.objects.filter(pk=reported_run.pk).update(status=TrainingRun.Status.FAILED, resume_point={})
    assert ">Start again</button>" in client.get(f"/training/{reported_run.pk}/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [True, False])
def test_choosing_a_checkpoint_outside_epochs_5_to_10_asks_first(client_of, alice, reported_run, htmx):
    client = client_of(alice)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    first = reported_run.checkpoints.get(epoch=1)
    # when epoch 1 is chosen without confirming
    asked = client.post(f"/training/{reported_run.pk}/choose/", {"checkpoint": first.pk}, **headers)
    # then nothing is chosen, and the answer is a form that posts the same choice with confirm=1
    page = asked.content.decode()
    assert asked.status_code == 200 and "Epoch 1 is outside epochs 5–10" in page
    form = re.search(r'<div class="flash flash-warning choose-confirm".*?<form (.*?)</form>', page, re.S).group(1)
    assert f'name="checkpoint" value="{first.pk}"' in form and 'name="confirm" value="1"' in form
    assert 'hx-trigger="every 2s"' not in page  # the question is not swapped away by the polling
    reported_run.refresh_from_db()
    assert reported_run.chosen_checkpoint is None
    # when confirmed
    client.post(f"/training/{reported_run.pk}/choose/", {"checkpoint": first.pk, "confirm": "1"}, **headers)
    reported_run.refresh_from_db()
    assert reported_run.chosen_checkpoint == first


@pytest.mark.django_db
def test_a_checkpoint_inside_the_window_is_chosen_at_once(client_of, alice, reported_run):
    fifth = reported_run.checkpoints.get(epoch=5)
    response = client_of(alice).post(f"/training/{reported_run.pk}/choose/", {"checkpoint": fifth.pk})
    assert response.status_code == 302
    reported_run.refresh_from_db()
    assert reported_run.chosen_checkpoint == fifth
    page = client_of(alice).get(f"/training/{reported_run.pk}/").content.decode()
    assert ">Choose…</button>" in page  # epoch 1, outside the window, says it will ask


@pytest.mark.django_db
def test_an_annotator_cannot_choose_even_with_confirm(client_of, bob, reported_run):
    first = reported_run.checkpoints.get(epoch=1)
    assert client_of(bob).post(f"/training/{reported_run.pk}/choose/", {"checkpoint": first.pk, "confirm": "1"}).status_code == 403
    reported_run.refresh_from_db()
    assert reported_run.chosen_checkpoint is None


@pytest.mark.django_db
def test_selected_runs_loss_curves_share_one_chart(client_of, bob, charlie, trained_run, version, tiny_model_dir, media):
    # given a second run with a faster-falling loss, and a third not asked for
    other = start_training_run(version, str(tiny_model_dir), {"learning_rate": 3e-3}, name="faster", enqueue=False)
    TrainingRun.objects.filter(pk=other.pk).update(metrics={"step": [1, 2, 3, 4], "epoch": [1, 1, 2, 2], "loss": [5.2, 3.0, 2.0, 1.5]})
    start_training_run(version, str(tiny_model_dir), name="not asked", enqueue=False)
    # when both are compared (an unknown id and a repeated one are ignored)
    page = client_of(bob).get(f"/training/compare/?runs={trained_run.pk}&runs={other.pk}&runs={other.pk}&runs=999").content.decode()
    # then one chart holds a line per run, on the same axes, with a legend
    paths = re.findall(r'<path class="chart-series series-(\d)" d="([^"]+)"><title>([^<]+)</title>', page)
    assert [(index, title) for index, _, title in paths] == [("0", trained_run.title), ("1", "faster")]
    ends = [float(d.split()[-1][1:].split(",")[0]) for _, d, _ in paths]
    assert ends[1] > ends[0]  # 4 steps reach further right than 3
    assert "last 4.100" in page and "last 1.500" in page and "not asked" in page.split('id="pick-title"')[1]
    assert "<code>learning_rate</code>" in page  # what differs between them
    assert client_of(charlie).get(f"/training/compare/?runs={trained_run.pk}").status_code == 403


@pytest.mark.django_db
def test_the_runs_list_lets_one_tick_runs_to_compare(client_of, alice, trained_run):
    page = client_of(alice).get("/training/").content.decode()
    assert f'<input type="checkbox" name="runs" value="{trained_run.pk}" form="compare-form" id="compare-{trained_run.pk}" hx-preserve="true"' in page
    assert '<form method="get" action="/training/compare/" id="compare-form"' in page
