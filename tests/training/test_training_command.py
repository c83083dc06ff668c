"""`manage.py train` without a worker: how it names a version, reads --set, and refuses bad input before
anything is queued. (A whole run through the worker: test_runs_worker.py.)"""
import io
import json

import pytest
from django.core.management import CommandError, call_command

from training.models import TrainingRun

from .runs_helpers import frozen_version


@pytest.fixture
def version(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return frozen_version([["Hi?", "Hello."]], name="tests v1")


def test_it_queues_a_run_by_version_name_with_the_overrides_given(version, tiny_model_dir, alice):
    out = io.StringIO()
    call_command("train", "tests v1", "--base-model", str(tiny_model_dir), "--set", "epochs=3", "--set", "lora=true",
                 "--user", "alice", "--json", stdout=out, stderr=io.StringIO())
    run = TrainingRun.objects.get()
    assert json.loads(out.getvalue().strip().splitlines()[-1]) == {"training_run": run.pk, "status": "queued", "checkpoints": [], "loss": []}
    assert run.overrides == {"epochs": 3, "lora": True} and run.created_by == alice and run.dataset_version == version


@pytest.mark.parametrize("args, words", [
    (["--set", "epochs"], "expected key=value"),
    (["--set", "epoch=3"], "did you mean 'epochs'"),
    (["--set", "learning_rate=fast"], "learning_rate"),
])
def test_a_bad_override_is_refused_before_anything_is_queued(version, tiny_model_dir, args, words):
    with pytest.raises(CommandError, match=words):
        call_command("train", str(version.pk), "--base-model", str(tiny_model_dir), *args, stdout=io.StringIO())
    assert not TrainingRun.objects.exists()


def test_an_unknown_version_or_model_is_named(version, tiny_model_dir):
    with pytest.raises(CommandError, match="No dataset version '999'"):
        call_command("train", "999", "--base-model", str(tiny_model_dir), stdout=io.StringIO())
    with pytest.raises(CommandError, match="no such model folder"):
        call_command("train", str(version.pk), "--base-model", "./missing-model", stdout=io.StringIO())
