"""`make test`: the suite as five pytest processes side by side, each with its own database, broker and VAR_DIR.

Most of the suite waits (on a Celery worker, a live server, a browser, a subprocess booting Django) rather than
computes, so on two cores five groups finish in a little over the longest group's time instead of the sum. A
group never shares state with another: its test database is `test_<name>_<group>` (PostgreSQL) or lives in its
own VAR_DIR (SQLite), its broker is its own Redis database or filesystem folder, its files are under
`$VAR_DIR/test-<group>/` (the browser group's screenshots included). Each group's output goes to
`$VAR_DIR/test-<group>.log` and is printed whole when the group ends; the exit status is the worst group's.

With arguments (`PYTEST_ARGS=... make test`), they go to one plain pytest run instead.
"""
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# (group, paths, Redis database). Tests that start workers of their own (tests/core/test_job_faults.py's World)
# give them the database one below their group's, so every group keeps two to itself.
GROUPS = [
    ("browser", ["tests/browser"], 13),
    ("curation", ["tests/curation"], 11),
    ("core", ["tests/core", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py"))], 9),
    ("inference", ["tests/inference", "tests/ops"], 7),  # ops here: curation is the longest group
    ("training", ["tests/training"], 15),
]


def group_env(group, redis_db):
    env = dict(os.environ)
    var_dir = Path(env.get("VAR_DIR", ROOT / "var")).resolve()
    env["VAR_DIR"] = str(var_dir / f"test-{group}")
    env.pop("MEDIA_ROOT", None)
    # Five groups share the cores: torch's OpenMP threads spinning for a core another group holds made one
    # 40 s training test take over 600 s in CI. One thread a process (and its engines) is the fair share.
    env.setdefault("OMP_NUM_THREADS", "1")
    if env.get("DATABASE_URL", "").startswith("postgres"):
        url = urlsplit(env["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(url._replace(path=f"{url.path.rstrip('/')}_{group}"))
    if env.get("REDIS_URL"):
        env["REDIS_URL"] = env["REDIS_URL"].rsplit("/", 1)[0] + f"/{redis_db}"
    return env, var_dir


def main(args):
    python = sys.executable
    if args:
        return subprocess.call([python, "-m", "pytest", *args], cwd=ROOT)
    started, running = time.monotonic(), []
    for group, paths, redis_db in GROUPS:
        env, var_dir = group_env(group, redis_db)
        Path(env["VAR_DIR"]).mkdir(parents=True, exist_ok=True)
        log_path = var_dir / f"test-{group}.log"
        log = log_path.open("w")
        process = subprocess.Popen([python, "-m", "pytest", "--durations=15", *paths], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        running.append((group, process, log, log_path))
        print(f"== {group}: {' '.join(paths)} → {log_path}", flush=True)
    worst = 0
    for group, process, log, log_path in running:
        code = process.wait()
        log.close()
        print(f"\n== {group} ended with {code} after {time.monotonic() - started:.0f} s", flush=True)
        sys.stdout.write(log_path.read_text())
        sys.stdout.flush()
        worst = worst or code
    print(f"\n== every group ended in {time.monotonic() - started:.0f} s: "
          + ", ".join(f"{g} {p.returncode}" for g, p, _, _ in running), flush=True)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
