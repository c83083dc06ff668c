"""The tiny model `make run` builds once, so that the training form's default base model works on a fresh clone."""
import subprocess
import sys
from pathlib import Path

import pytest

from training.forms import TrainingRunForm

REPO = Path(__file__).resolve().parents[2]


def build(folder):
    return subprocess.run([sys.executable, "-m", "training.demo", "--model-only", "--model", str(folder)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_make_run_builds_the_tiny_model_before_it_starts_the_processes(tmp_path):
    lines = subprocess.run(["make", "-n", "run", f"VAR_DIR={tmp_path}", "STAMP=/dev/null"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    build_line = next(i for i, line in enumerate(lines) if "training.demo --model-only" in line)
    assert f"test -f {tmp_path}/models/tiny-demo/config.json ||" in lines[build_line]  # skipped once it is there
    assert build_line < next(i for i, line in enumerate(lines) if "scripts/run.py" in line)


@pytest.mark.slow
@pytest.mark.django_db
def test_the_tiny_model_is_built_once_and_is_the_forms_default(settings, tmp_path):
    settings.VAR_DIR, settings.TRAINING_DEFAULT_BASE_MODEL = tmp_path / "var", ""
    folder = tmp_path / "var" / "models" / "tiny-demo"
    # before: nothing to propose
    assert TrainingRunForm().fields["base_model_choice"].initial == ""
    first = build(folder)
    assert first.returncode == 0, first.stderr
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert [p.name for p in folder.parent.iterdir()] == ["tiny-demo"]  # no partial build left beside it
    again = build(folder)
    assert again.returncode == 0 and "already built" in again.stdout
    form = TrainingRunForm()
    assert form.fields["base_model_choice"].initial == str(folder.resolve())
    assert dict(form.fields["base_model_choice"].choices)[str(folder.resolve())].startswith("tiny-demo")
