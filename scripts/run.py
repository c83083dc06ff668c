"""`make run`: start every process of the Procfile, and stop them all together.

Ctrl-C (SIGINT, also under `make run | tee log`), a closed terminal (SIGHUP), `kill` (SIGTERM), or one process
exiting on its own: each process gets SIGTERM, whatever is left GRACE seconds later (or at a second Ctrl-C) gets
SIGKILL, and this script exits. Each process runs in its own process group, so one signal reaches a worker with
its pool, and dies with this script (PR_SET_PDEATHSIG) should this script be killed outright.

Not honcho: honcho 2.0 handles SIGINT and SIGTERM only; a SIGHUP kills it and leaves every process running.
The web server writes to the terminal; the others to $VAR_DIR/log/<name>.log, so the terminal keeps the demo
logins and the URL. Settings: RUN_ADDR (default 127.0.0.1:8000), VAR_DIR (default var).
"""
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from core.processes import die_with_parent, signal_group  # noqa: E402 - the repository is on the path now

GRACE = 10  # seconds from SIGTERM to SIGKILL: enough for a Celery worker's warm shutdown
ON_TERMINAL = {"web"}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def read_procfile(path):
    """[(name, argv)] of its `name: command` lines, $VARIABLES taken from the environment."""
    found = []
    for line in Path(path).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if match:
            found.append((match[1], shlex.split(os.path.expandvars(match[2]))))
    return found


def say(text):
    """Print, and carry on when nobody reads any more (a closed terminal; tee stopped by the same Ctrl-C)."""
    try:
        print(text, flush=True)
    except OSError:
        sys.stdout = open(os.devnull, "w")


def start(name, argv, logs):
    log = None if name in ON_TERMINAL else open(logs / f"{name}.log", "wb")
    # No shell between us and the process: its pid is its group's id, and the death signal stays on it.
    return subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT if log else None,
                            start_new_session=True, preexec_fn=die_with_parent)


def stop(processes, received):
    for process in processes.values():
        signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    asked = len(received)
    while any(p.poll() is None for p in processes.values()) and time.monotonic() < deadline:
        if len(received) > asked:  # a second Ctrl-C: no more waiting
            break
        time.sleep(0.1)
    for process in processes.values():
        signal_group(process.pid, signal.SIGKILL)  # what is left of each group: a leader, a pool child
        process.wait()


def main():
    addr = os.environ.setdefault("RUN_ADDR", "127.0.0.1:8000")
    logs = Path(os.environ.setdefault("VAR_DIR", str(ROOT / "var"))) / "log"
    logs.mkdir(parents=True, exist_ok=True)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # the venv's
    received = []
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda signum, frame: received.append(signum))

    processes = {name: start(name, argv, logs) for name, argv in read_procfile(ROOT / "Procfile")}
    others = [f"{logs / name}.log" for name in processes if name not in ON_TERMINAL]
    say(f"\nLIMA Studio: http://{addr if ':' in addr else '127.0.0.1:' + addr}/   "
        f"(Ctrl-C stops {', '.join(processes)})\nLogs: {', '.join(others)}\n")
    code = 0
    while not received:
        exited = [(name, p.returncode) for name, p in processes.items() if p.poll() is not None]
        if exited:
            say(f"{exited[0][0]} exited with status {exited[0][1]}.")
            code = exited[0][1] if exited[0][1] > 0 else 1  # it is not meant to stop on its own
            break
        time.sleep(0.2)
    say(f"Stopping {', '.join(processes)}…")
    stop(processes, received)
    return code


if __name__ == "__main__":
    sys.exit(main())
