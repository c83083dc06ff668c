"""docker-compose.yml and the Dockerfile, checked by construction (no Docker engine here): every service, its
healthcheck, every command it runs exists in the project, every variable it sets is one the settings read."""
import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OURS = sorted(name for name, service in SERVICES.items() if "build" in service)  # built from this repository
DECLARED = set(re.findall(r'env_[a-z]+\("([A-Z0-9_]+)"', (REPO / "config" / "settings.py").read_text()))


def _commands(command):
    """The programs a command runs: `sh -c "a && b"` is a and b; a list is one command."""
    words = command if isinstance(command, list) else shlex.split(command)
    if words[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in re.split(r"&&|;", words[2]) if part.strip()]
    if words[:1] == ["CMD-SHELL"]:
        return _commands(["sh", "-c", words[1]])
    if words[:1] == ["CMD"]:
        return [words[1:]]
    return [words]


def _check_command(words):
    from django.core.management import get_commands

    from config.celery import app

    words = [word for word in words if word != "exec"]
    program = words[0]
    if program == "python" and words[1] == "manage.py":
        assert words[2] in get_commands(), f"manage.py has no command {words[2]!r}"
    elif program == "python" and words[1] == "-c":
        compile(words[2], "<healthcheck>", "exec")
    elif program == "python":
        assert (REPO / words[1]).is_file(), words
    elif program == "celery":
        assert words[1:3] == ["-A", "config"] and hasattr(__import__("config.celery").celery, "app")
        assert words[3] in {"worker", "beat", "inspect"}, words
        if "-Q" in words:
            queues = set(words[words.index("-Q") + 1].split(","))
            assert queues <= {queue.name for queue in app.conf.task_queues}, queues
        if "-d" in words:
            node = words[words.index("-d") + 1].split("@")[0]
            return node
    elif program == "gunicorn":
        config = words[words.index("-c") + 1]
        assert (REPO / config).is_file(), config
        module = words[-1]
        assert (REPO / (module.replace(".", "/") + ".py")).is_file(), module
    else:
        pytest.fail(f"unknown program {program!r} in {words}")
    return None


def test_every_service_of_the_design_is_there_with_a_healthcheck():
    assert {"postgres", "redis", "web", "worker", "gpu-worker", "beat"} <= set(SERVICES)
    for name, service in SERVICES.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_the_databases_are_probed_with_their_own_tools():
    assert "pg_isready" in " ".join(SERVICES["postgres"]["healthcheck"]["test"])
    assert SERVICES["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_the_web_healthcheck_asks_healthz(client, db):
    probe = " ".join(SERVICES["web"]["healthcheck"]["test"])
    url = re.search(r"http://127\.0\.0\.1:8000(/[^'\"]*)", probe).group(1)
    assert url == "/healthz/" and client.get(url).status_code == 200


@pytest.mark.parametrize("name", OURS)
def test_every_command_exists_in_the_project(name):
    service = SERVICES[name]
    for words in _commands(service["command"]):
        _check_command(words)
    for words in _commands(service["healthcheck"]["test"]):
        node = _check_command(words)
        if node is not None:  # a worker pings itself by the node name its command gives it
            assert f"-n {node}@%h" in service["command"], (name, node)


def test_the_workers_take_one_queue_each_and_the_gpu_worker_reserves_gpus():
    assert "-Q default " in SERVICES["worker"]["command"]
    assert "-Q gpu " in SERVICES["gpu-worker"]["command"] and "--concurrency 1" in SERVICES["gpu-worker"]["command"]
    devices = SERVICES["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert SERVICES["beat"]["command"].startswith("celery -A config beat")


@pytest.mark.parametrize("name", OURS)
def test_every_variable_a_service_sets_is_declared_in_settings(name):
    variables = set(SERVICES[name].get("environment", {}))
    assert variables and sorted(variables - DECLARED) == []


@pytest.mark.parametrize("name", OURS)
def test_every_app_service_shares_the_media_volume_at_media_root(name):
    service = SERVICES[name]
    assert f"media:{service['environment']['MEDIA_ROOT']}" in service["volumes"]


def test_the_dockerfile_copies_what_exists_runs_as_a_user_and_starts_gunicorn_with_its_config():
    dockerfile = (REPO / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert source == "." or (REPO / source).exists(), source
    assert re.search(r"^USER \w+", dockerfile, re.M), "the image must not run as root"
    cmd = re.search(r"^CMD (.+)$", dockerfile, re.M).group(1)
    import json

    _check_command(json.loads(cmd))
