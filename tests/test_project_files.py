"""The files a newcomer and CI rely on say what the README promises."""
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_compose_file_has_every_service_of_the_design():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert {"postgres", "redis", "web", "worker", "gpu-worker"} <= set(compose["services"])
    assert "-Q gpu" in compose["services"]["gpu-worker"]["command"]
    assert "-Q default" in compose["services"]["worker"]["command"]


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make test" in ci
    assert "make run" in readme and "make test" in readme


def test_torch_is_pinned_to_the_cpu_build_version_everywhere():
    assert '"torch==2.13.0"' in (REPO / "pyproject.toml").read_text()
    assert "torch==2.13.0" in (REPO / "constraints.txt").read_text().splitlines()
