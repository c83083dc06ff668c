"""The files a newcomer and CI rely on say what the README promises."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def test_compose_file_has_every_service_of_the_design():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert {"postgres", "redis", "web", "worker", "gpu-worker", "beat"} <= set(compose["services"])
    assert "-Q gpu" in compose["services"]["gpu-worker"]["command"]
    assert "-Q default" in compose["services"]["worker"]["command"]
    assert "celery -A config beat" in compose["services"]["beat"]["command"]


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make test" in ci
    assert "make run" in readme and "make test" in readme


def test_torch_is_pinned_to_the_cpu_build_version_everywhere():
    assert '"torch==2.13.0"' in (REPO / "pyproject.toml").read_text()
    assert "torch==2.13.0" in (REPO / "constraints.txt").read_text().splitlines()


def readme_variables():
    """The variables of the README's configuration table (a row may name two: `A`, `B`)."""
    section = README.read_text().split("## Configuration (environment variables)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])]


def test_every_variable_of_the_readme_is_declared_in_settings():
    settings_source = (REPO / "config" / "settings.py").read_text()
    declared = set(re.findall(r'env_[a-z]+\("([A-Z0-9_]+)"', settings_source))
    documented = readme_variables()

    assert len(documented) > 20
    assert [name for name in documented if name not in declared] == []
    assert [name for name in sorted(declared) if name not in documented] == []


def test_the_documented_variables_are_honoured(tmp_path):
    script = (
        "import json; from django.conf import settings; "
        "print(json.dumps([settings.JOB_HEARTBEAT_TIMEOUT, settings.JOB_REAPER_SECONDS, settings.DATASET_TOKENIZER, "
        "settings.FREEZE_JOB_MIN_EXAMPLES, settings.REVIEW_CLAIM_SECONDS, str(settings.MEDIA_ROOT), settings.RUN_ADDR, "
        "settings.CELERY_BEAT_SCHEDULE['reap-dead-jobs']['schedule']]))"
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", JOB_HEARTBEAT_TIMEOUT="7.5",
               JOB_REAPER_SECONDS="30", DATASET_TOKENIZER="/models/tokenizer.json", FREEZE_JOB_MIN_EXAMPLES="5",
               REVIEW_CLAIM_SECONDS="60", MEDIA_ROOT=str(tmp_path), RUN_ADDR="0.0.0.0:9000")
    done = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {script}"], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True)

    assert json.loads(done.stdout.splitlines()[-1]) == [7.5, 30.0, "/models/tokenizer.json", 5, 60, str(tmp_path),
                                                        "0.0.0.0:9000", 30.0]
