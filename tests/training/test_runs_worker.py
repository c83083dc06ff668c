"""Training runs through a real Celery worker on the tiny model: `manage.py train --wait --json`, cancel
(the engine's process group is killed, checkpoints stay) and resume after the engine was killed."""
import io
import json
import os
import signal
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from core.processes import group_alive
from training.models import TrainingRun
from training.services import resume_training_run, start_training_run

from .runs_helpers import FAST_RECIPE, frozen_version, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def media(settings, tmp_path):
    # The path is stored on the run, so the worker (another process, other settings) writes here too.
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_the_command_trains_through_the_worker_and_prints_the_result_as_json(celery_worker, chats, tiny_model_dir, media):
    version = frozen_version(chats[:16])
    sets = [arg for key, value in FAST_RECIPE.items() for arg in ("--set", f"{key}={value}")]
    out = io.StringIO()
    call_command("train", str(version.pk), "--base-model", str(tiny_model_dir), *sets, "--wait", "--json",
                 "--timeout", "240", stdout=out, stderr=io.StringIO())
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    run = TrainingRun.objects.get(pk=result["training_run"])
    assert result["status"] == "succeeded", run.log_tail
    assert result["checkpoints"] == [str(Path(run.output_dir) / f"checkpoint-epoch-0{e}") for e in (1, 2)]
    assert all((Path(path) / "model.safetensors").is_file() for path in result["checkpoints"])
    assert len(result["loss"]) == 2 and result["loss"][1] < result["loss"][0]
    assert run.worker_name.startswith("test-") and run.step == run.total_steps == 4
    assert run.metrics["loss"][-1] < run.metrics["loss"][0]


def test_cancel_kills_the_engines_process_group_and_keeps_its_checkpoints(celery_worker, chats, tiny_model_dir, media, alice):
    # given a long run that has written its first checkpoint
    run = start_training_run(frozen_version(chats[:16]), str(tiny_model_dir), {**FAST_RECIPE, "epochs": 300}, user=alice)
    run = wait_for(run, lambda r: r.checkpoints.exists() and r.pgid, what="a first checkpoint")
    pgid = run.pgid
    assert group_alive(pgid)
    # when an admin cancels it through the API
    client = APIClient()
    client.force_authenticate(alice)
    assert client.post(f"/api/training-runs/{run.pk}/cancel/").status_code == 200
    # then the run ends cancelled, the engine's whole group is gone, and the checkpoints stay
    run = wait_for(run, lambda r: r.status != TrainingRun.Status.RUNNING, timeout=60, what="the cancel")
    assert run.status == TrainingRun.Status.CANCELLED and run.error == ""
    assert not group_alive(pgid) and run.pgid is None
    assert run.step < run.total_steps
    kept = list(run.checkpoints.all())
    assert kept and all((Path(c.path) / "model.safetensors").is_file() for c in kept)


def test_a_killed_engine_fails_the_run_and_resume_continues_from_its_last_resume_point(celery_worker, chats, tiny_model_dir, media, alice):
    # given a run whose engine is killed from outside after its first checkpoint
    recipe = {**FAST_RECIPE, "epochs": 6}
    run = start_training_run(frozen_version(chats[:16]), str(tiny_model_dir), recipe, user=alice)
    run = wait_for(run, lambda r: r.checkpoints.exists() and r.pgid, what="a first checkpoint")
    os.killpg(run.pgid, signal.SIGKILL)
    run = wait_for(run, lambda r: r.status != TrainingRun.Status.RUNNING, timeout=60, what="the end of the killed run")
    assert run.status == TrainingRun.Status.FAILED and "SIGKILL" in run.error, run.log_tail
    last = run.checkpoints.order_by("epoch").last()
    assert last.epoch < 6, "the run finished before the kill: nothing left to resume"
    # the run keeps the latest resume point (the engine's, with the optimizer state), not a checkpoint to choose
    point = run.resume_point
    assert Path(point["path"]).name == f"resume-step-{point['step']:06d}" and point["step"] >= last.step
    assert point["bytes"] == sum(f.stat().st_size for f in Path(point["path"]).rglob("*") if f.is_file())
    assert not run.checkpoints.filter(path=point["path"]).exists()
    # when it is resumed
    resume_training_run(run, alice)
    run = wait_for(run, lambda r: r.status in TrainingRun.FINISHED and r.attempt == 2, timeout=240, what="the resumed run")
    # then it continued from that point to the end, its series without a step counted twice
    assert run.status == TrainingRun.Status.SUCCEEDED, run.log_tail
    assert run.resumed_from == point["path"]
    start = [json.loads(line) for line in Path(run.output_dir, "events.jsonl").read_text().splitlines()
             if '"event": "start"' in line][-1]
    assert start["start_step"] == point["step"] and start["resumed_from"] == point["path"]
    assert run.metrics["step"] == list(range(1, run.total_steps + 1))
    assert len(run.epoch_losses) == 6 and run.epoch_losses[-1] < run.epoch_losses[0]
    assert [c.epoch for c in run.checkpoints.order_by("epoch")] == list(range(1, 7))
    assert run.resume_point == {} and not Path(point["path"]).exists()  # a finished run has nothing to resume
