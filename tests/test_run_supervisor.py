"""`make run`'s supervisor, the real scripts/run.py with the real Procfile (web server, two Celery workers, beat) on
a throwaway VAR_DIR and a free port: Ctrl-C under a pipe, a closed terminal and `kill` each leave no process of
it alive, and the banner shows the address it serves."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # each case boots Django four times and two Celery worker pools (~10 s)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.2)


def serving(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def logged(path, text):
    return path.is_file() and text in path.read_text(errors="replace")


@pytest.mark.parametrize("how", ["ctrl-c under a pipe", "terminal closed", "kill"])
def test_stopping_run_leaves_no_process_alive(how, tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")}
    # Its own SQLite file and folder broker: nothing shared with the test session or another checkout.
    env.update(VAR_DIR=str(tmp_path), RUN_ADDR=f"127.0.0.1:{port}", PYTHONUNBUFFERED="1")
    banner = tmp_path / "terminal.txt"
    # A shell in a session of its own stands in for the terminal: its process group is the foreground group that
    # Ctrl-C and a hang-up reach (the supervisor and `tee` alike).
    shell = subprocess.Popen(
        ["bash", "-c", f'"{sys.executable}" scripts/run.py 2>&1 | tee "{banner}" >/dev/null'],
        cwd=REPO, env=env, start_new_session=True,
    )
    everything = []
    try:
        # given: every process up — the web server answering, both workers ready, beat started
        logs = tmp_path / "log"
        wait_until(lambda: serving(port), "the web server listening")
        wait_until(lambda: logged(logs / "worker-default.log", "ready."), "the default worker ready")
        wait_until(lambda: logged(logs / "worker-gpu.log", "ready."), "the gpu worker ready")
        wait_until(lambda: logged(logs / "beat.log", "beat: Starting"), "beat starting")
        everything = psutil.Process(shell.pid).children(recursive=True)
        supervisor = next(p for p in everything if "scripts/run.py" in " ".join(p.cmdline()))
        assert len(supervisor.children()) == 4  # web, two workers, beat
        assert f"http://127.0.0.1:{port}/" in banner.read_text()

        # when
        if how == "kill":
            supervisor.send_signal(signal.SIGTERM)
        else:
            os.killpg(shell.pid, signal.SIGINT if how == "ctrl-c under a pipe" else signal.SIGHUP)

        # then
        shell.wait(timeout=60)
        gone, alive = psutil.wait_procs(everything, timeout=30)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
        assert not serving(port)
    finally:  # a failed case must not leave its processes behind either
        for process in everything:
            if process.is_running():
                process.kill()
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
