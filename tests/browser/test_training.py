"""The training pages in a real browser: the form's quick demo preset, model picker and batch warning as values
change; choosing a checkpoint outside epochs 5-10 (asked first); several runs' losses on one chart."""
import re
import shutil

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from training.models import Checkpoint, TrainingRun
from training.services import start_training_run

from ..training.runs_helpers import frozen_version
from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHATS = [["What is tea?", "A drink made from the leaves of the tea plant."],
         ["Name a prime.", "Seven.", "Another one?", "Eleven."]]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from training.engine.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), [turn for chat in CHATS for turn in chat] * 20)


@pytest.fixture
def tiny_demo(settings, tmp_path, tiny_model_dir):
    """var/models/tiny-demo, as `make run` leaves it."""
    settings.VAR_DIR, settings.MEDIA_ROOT, settings.MODEL_DIRS = tmp_path / "var", tmp_path / "media", []
    settings.TRAINING_DEFAULT_BASE_MODEL = ""
    return shutil.copytree(tiny_model_dir, tmp_path / "var" / "models" / "tiny-demo").resolve()


def finished_run(version, model, name, losses, epochs=(1, 5)):
    run = start_training_run(version, str(model), name=name, enqueue=False)
    steps = list(range(1, len(losses) + 1))
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.SUCCEEDED, attempt=1, done=len(losses), total=len(losses), epoch=2, epochs=2,
        started_at=timezone.now(), finished_at=timezone.now(),
        metrics={"step": steps, "epoch": [1 + (s > len(losses) // 2) for s in steps], "loss": losses, "lr": [1e-5] * len(losses)},
        data_report={"examples": 2, "examples_by_source": {"manual": 2}, "source_token_share": {"manual": 1.0},
                     "trimmed": 0, "cut": 0, "dropped": 0},
    )
    for epoch in epochs:
        Checkpoint.objects.create(run=run, epoch=epoch, step=epoch, path=f"{run.output_dir}/checkpoint-epoch-{epoch:02d}", bytes=600_000, dtype="float32")
    return run


def test_the_quick_demo_preset_fills_the_form_and_the_batch_warning_follows_the_values(page, live_server, log_in, alice, tiny_demo):
    frozen_version(CHATS, name="lima v1")
    log_in(page, alice)
    page.goto(live_server.url + "/training/new/")
    # the tiny model make run built is proposed; LIMA's auto batch is too large for 2 examples
    expect(page.locator("#id_base_model_choice")).to_have_value(str(tiny_demo))
    expect(page.locator(".batch-warning")).to_contain_text("The batch of 64")
    page.get_by_role("link", name="Quick demo preset").click()
    expect(page.locator(".quick-demo-note")).to_contain_text("6.24 to 4.46")
    expect(page.locator("#id_epochs")).to_have_value("10")
    expect(page.locator("#id_batch_size")).to_have_value("2")
    expect(page.locator(".batch-warning")).to_have_count(0)
    # when the batch grows past the train split, the warning comes back without a reload
    page.locator("#id_batch_size").fill("3")
    page.locator("#id_batch_size").dispatch_event("change")
    expect(page.locator(".batch-warning")).to_contain_text("The batch of 3 is larger than the 2 train examples")
    expect(page.locator("#id_overlong")).to_have_value("cut")
    page.locator("details", has=page.locator("#id_gradient_checkpointing")).locator("summary").click()
    page.locator("#id_gradient_checkpointing").select_option("selective")
    screenshot(page, "training-01-quick-demo")


def test_a_checkpoint_outside_epochs_5_to_10_is_chosen_once_confirmed(page, live_server, log_in, alice, tiny_demo):
    run = finished_run(frozen_version(CHATS, name="lima v1"), tiny_demo, "demo", [6.2, 5.0, 4.4, 4.0])
    log_in(page, alice)
    page.goto(live_server.url + f"/training/{run.pk}/")
    expect(page.locator(".disk-use")).to_contain_text("Disk use: 1.1")
    expect(page.locator(".data-table")).to_contain_text("100.0 %")
    # when epoch 1 is chosen, the page asks first
    page.get_by_role("button", name="Choose…").click()
    confirm = page.locator(".choose-confirm")
    expect(confirm).to_contain_text("Epoch 1 is outside epochs 5–10")
    screenshot(page, "training-02-confirm")
    confirm.get_by_role("link", name="Keep none chosen").click()
    expect(page.locator(".choose-confirm")).to_have_count(0)
    assert TrainingRun.objects.get(pk=run.pk).chosen_checkpoint is None
    page.get_by_role("button", name="Choose…").click()
    page.get_by_role("button", name="Choose epoch 1 anyway").click()
    expect(page.locator("tr.chosen")).to_contain_text("1")
    assert TrainingRun.objects.get(pk=run.pk).chosen_checkpoint.epoch == 1
    # epoch 5 is chosen at once
    page.get_by_role("button", name="Choose", exact=True).click()
    expect(page.locator("tr.chosen td").first).to_have_text("5")
    assert TrainingRun.objects.get(pk=run.pk).chosen_checkpoint.epoch == 5


def test_ticked_runs_share_one_loss_chart(page, live_server, log_in, bob, tiny_demo):
    version = frozen_version(CHATS, name="lima v1")
    slow = finished_run(version, tiny_demo, "slow", [6.2, 5.9, 5.7, 5.6])
    fast = finished_run(version, tiny_demo, "fast", [6.2, 4.0, 3.0, 2.5, 2.2, 2.0])
    finished_run(version, tiny_demo, "other", [6.0, 5.0])
    log_in(page, bob)
    page.goto(live_server.url + "/training/")
    page.get_by_label("Compare slow").check()
    page.get_by_label("Compare fast").check()
    page.get_by_role("button", name="Compare the ticked runs' losses").click()
    expect(page).to_have_url(re.compile(r"/training/compare/\?runs=\d+&runs=\d+$"))
    assert {int(v) for v in re.findall(r"runs=(\d+)", page.url)} == {fast.pk, slow.pk}
    expect(page.locator("svg.chart-compare path.chart-series")).to_have_count(2)
    expect(page.locator(".chart-legend li")).to_have_count(2)
    expect(page.locator(".chart-legend")).to_contain_text("last 2.000")
    screenshot(page, "training-03-compare")
