"""Annotators working the review queue at once, over HTTP: gunicorn + PostgreSQL and N simulated reviewers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/load.py \\
        [--users 10] [--seconds 20] [--examples 20000] [--workers 4] [--threads 2] [--database lima_bench_load] [--keep]

It (re)creates the database named by --database on the server of DATABASE_URL, migrates it and loads `--examples`
examples with bench/table.py's loader (COPY; LIMA's lengths and sources, 80 % candidates), makes `--users`
annotators with a session each, and starts gunicorn on 127.0.0.1 with the settings the README recommends
(gthread workers; `--workers`/`--threads` to compare others) and production settings (DEBUG off, persistent
database connections). Then one thread per annotator works the queue for `--seconds`, as the page's htmx does:

- open `/review/` (the whole page; on the first visit also its CSS and JavaScript);
- then, after 0.5–2 s of thought each time: approve (55 %), reject with a reason (15 %), open the in-place
  editor and save a changed answer (10 %), or step to the next item with `j` (20 %). Every answer is the next
  item's panel, after which the browser loads the similar-examples card (`similar`, no thought before it).

It prints p50/p95/p99 per action, requests/s and errors (any answer but 2xx, or no answer). No Celery worker runs:
no action of the review queue queues a task. The load generator shares the machine with the server; its
threads sleep most of the time.

Target (issue 14): 50 annotators, p95 < 200 ms on 2 cores.
"""
import argparse
import html
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from table import database_exists, database_urls, recreate_database  # noqa: E402
from table import load as load_examples  # noqa: E402

MAX_USERS, MAX_SECONDS = 200, 600
# The README's recommendation for a 2-core host (section "Load", config/gunicorn.py): 4 gthread workers of 2 threads.
DEFAULT_WORKERS, DEFAULT_THREADS = 4, 2
ACTIONS = (("approve", 55), ("reject", 15), ("edit", 10), ("next", 20))
REASONS = ("low_quality", "off_style", "refers_elsewhere", "not_self_contained", "bad_length")
QUEUE = "status=candidate"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="threads per worker (gthread)")
    parser.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread",
                        help="sync: one request at a time per worker (gunicorn's default), for comparison")
    parser.add_argument("--conn-max-age", type=int, default=60,
                        help="DB_CONN_MAX_AGE of the server (0: a new database connection every request)")
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 2.0), metavar=("MIN", "MAX"),
                        help="seconds of thought before each action")
    parser.add_argument("--database", default="lima_bench_load")
    parser.add_argument("--keep", action="store_true", help="reuse the database of an earlier run if it is there")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be between 1 and {MAX_USERS}")
    if not 1 <= args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be between 1 and {MAX_SECONDS}")
    if args.workers < 1 or args.threads < 1:
        parser.error("--workers and --threads must be at least 1")
    return args


def server_environment(url, conn_max_age):
    """Production settings, as an operator runs them (README "Load"), on plain HTTP over the loopback."""
    env = dict(os.environ)
    env.update(DATABASE_URL=url, DEBUG="false", SECRET_KEY=secrets.token_urlsafe(40), ALLOWED_HOSTS="127.0.0.1",
               SECURE_SSL_REDIRECT="false", DB_CONN_MAX_AGE=str(conn_max_age), LOG_LEVEL="WARNING")
    return env


# --- The database and the annotators ----------------------------------------------------------------------------

def prepare(args, url, reuse):
    """Migrate and load (unless reused), free every claim, and one session cookie per annotator."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from core.roles import ANNOTATOR, ensure_roles
    from curation.models import Example

    if not reuse:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        loaded, indexed, index_seconds = load_examples(args.examples)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"  loaded {args.examples:,} examples with COPY in {loaded:.1f} s (+ search index {index_seconds:.1f} s); "
              f"{time.perf_counter() - started:.1f} s in all")
    call_command("collectstatic", interactive=False, verbosity=0)
    Example.objects.exclude(claimed_by=None).update(claimed_by=None, claimed_until=None)
    if reuse:  # an earlier run's thousands of updates: vacuumed now, not by autovacuum in the middle of this run
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")
    candidates = Example.objects.filter(status=Example.Status.CANDIDATE).count()
    print(f"  {Example.objects.count():,} examples, {candidates:,} candidates in the queue")

    ensure_roles()
    annotators = Group.objects.get(name=ANNOTATOR)
    cookies = []
    for number in range(1, args.users + 1):
        user, created = get_user_model().objects.get_or_create(username=f"load-annotator-{number:03d}")
        if created:
            user.set_unusable_password()  # a session is made below; nobody logs in with a password
            user.save()
            user.groups.add(annotators)
        client = Client()
        # The session the login form would make (without 50 password hashes at the start of the run).
        client.force_login(user, backend="core.people.backends.ModelBackendOneQuery")
        cookies.append(client.cookies[_session_cookie_name()].value)
    return cookies


def _session_cookie_name():
    from django.conf import settings

    return settings.SESSION_COOKIE_NAME


# --- gunicorn ------------------------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_command(port, workers, threads, worker_class="gthread"):
    threading_options = ["--threads", str(threads)] if worker_class == "gthread" else []
    return [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--worker-class", worker_class, "--workers", str(workers), *threading_options,
            "--timeout", "60", "--keep-alive", "5", "--log-level", "warning"]


def start_server(env, port, workers, threads, worker_class="gthread"):
    import requests

    server = subprocess.Popen(gunicorn_command(port, workers, threads, worker_class), cwd=REPO, env=env,
                              start_new_session=True)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                sys.exit(f"gunicorn exited with {server.returncode} before answering")
            try:
                if requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5).status_code == 200:
                    return server
            except requests.RequestException:
                time.sleep(0.3)
        sys.exit("gunicorn did not answer /accounts/login/ within 90 s")
    except BaseException:  # interrupted or failed: no server is left behind
        stop_server(server)
        raise


def stop_server(server):
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# --- One annotator ---------------------------------------------------------------------------------------------------

PANEL = re.compile(r'id="review-panel"[^>]*?data-example-id="(\d+)" data-version="(\d+)"')
ASSET = re.compile(r'<(?:link rel="stylesheet" href|script src)="(/static/[^"]+)"')
TEXTAREA = re.compile(r'<textarea name="turn"[^>]*>(.*?)</textarea>', re.S)
FIELD = re.compile(r'<input type="text" name="(domain|tags)" value="([^"]*)"')


class Annotator(threading.Thread):
    """One reviewer: a session, keep-alive connections, and the loop of the module's docstring."""

    def __init__(self, base, session_cookie, deadline, think, seed, record):
        super().__init__(daemon=True)
        import requests

        self.base, self.deadline, self.think, self.record = base, deadline, think, record
        self.rng = random.Random(seed)
        self.http = requests.Session()
        csrf = secrets.token_hex(16)  # a CSRF secret of our own: Django accepts the unmasked secret as the token
        self.headers = {"Cookie": f"{_session_cookie_name()}={session_cookie}; csrftoken={csrf}",
                        "X-CSRFToken": csrf}
        self.item = None  # (example id, version) of the panel on screen

    def call(self, action, method, path, data=None, htmx=True):
        import requests

        headers = dict(self.headers)
        if htmx:
            headers.update({"HX-Request": "true", "HX-Current-URL": f"{self.base}/review/"})
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, data=data, headers=headers, timeout=60,
                                         allow_redirects=False)
            body = response.text
            ok = 200 <= response.status_code < 300
            status = response.status_code
        except requests.RequestException as error:
            body, ok, status = "", False, type(error).__name__
        self.record(action, (time.perf_counter() - started) * 1000, ok, status)
        self.http.cookies.clear()  # the session is ours (the Cookie header), not the jar's
        return body if ok else None

    def show(self, body):
        """The panel now on screen; the browser then loads its similar-examples card."""
        match = PANEL.search(body or "")
        self.item = (int(match.group(1)), int(match.group(2))) if match else None
        if self.item:
            self.call("similar", "GET", f"/examples/{self.item[0]}/similar/")

    def open_page(self, first):
        body = self.call("review page", "GET", f"/review/?{QUEUE}", htmx=False)
        if first and body:
            for asset in dict.fromkeys(ASSET.findall(body)):
                self.call("static", "GET", asset, htmx=False)
        self.show(body)

    def sleep(self):
        pause = self.rng.uniform(*self.think)
        time.sleep(max(0.0, min(pause, self.deadline - time.monotonic())))
        return time.monotonic() < self.deadline

    def act(self):
        pk, version = self.item
        action = self.rng.choices([name for name, _ in ACTIONS], [weight for _, weight in ACTIONS])[0]
        if action == "approve":
            body = self.call("approve", "POST", f"/review/{pk}/decide/?{QUEUE}",
                             {"decision": "approve", "version": version})
        elif action == "reject":
            body = self.call("reject", "POST", f"/review/{pk}/decide/?{QUEUE}",
                             {"decision": "reject", "reason": self.rng.choice(REASONS), "version": version})
        elif action == "next":
            body = self.call("next", "GET", f"/review/step/?after={pk}&{QUEUE}")
        else:
            body = self.edit(pk, version)
        if body is None:
            return self.open_page(first=False)  # an error: start again from the page, as a person would reload
        self.show(body)

    def edit(self, pk, version):
        form = self.call("edit form", "GET", f"/examples/{pk}/edit/?context=review&{QUEUE}")
        if form is None or not self.sleep():
            return form
        turns = [html.unescape(text) for text in TEXTAREA.findall(form)]
        fields = {name: html.unescape(value) for name, value in FIELD.findall(form)}
        turns[-1] += "\n\nEdited while the queue was under load."
        return self.call("edit save", "POST", f"/examples/{pk}/edit/?context=review&{QUEUE}",
                         {"turn": turns, "version": version, **fields})

    def run(self):
        self.open_page(first=True)
        while self.sleep():
            if self.item is None:
                self.open_page(first=False)
            else:
                self.act()


class ServerCPU:
    """CPU seconds spent by gunicorn's workers and by PostgreSQL's backends serving the bench database: on a shared
    machine, CPU per request is the figure others disturb least (a busy neighbour stretches times, not work)."""

    def __init__(self, server, database):
        self.server, self.marker = server, f" {database} "

    def _processes(self):
        import psutil

        workers = psutil.Process(self.server.pid).children()
        backends = []
        for process in psutil.process_iter(["name", "cmdline"]):
            try:
                if process.info["name"] == "postgres" and self.marker in " ".join(process.info["cmdline"] or []) + " ":
                    backends.append(process)
            except psutil.Error:
                continue
        return {"gunicorn": workers, "PostgreSQL": backends}

    def snapshot(self):
        import psutil

        totals = {}
        for kind, processes in self._processes().items():
            for process in processes:
                try:
                    times = process.cpu_times()
                    totals[(kind, process.pid)] = times.user + times.system
                except psutil.Error:
                    continue
        return totals

    @staticmethod
    def spent(before, after):
        """Seconds of CPU per kind between two snapshots (a process new since `before` counts from zero)."""
        spent = defaultdict(float)
        for key, seconds in after.items():
            spent[key[0]] += seconds - before.get(key, 0.0)
        return spent


def warm_up(base, cookie, parallel):
    """Every worker imports the views and compiles the templates on its first requests: done before the clock starts
    (as on a server that has been up for a while); the item claimed meanwhile is freed again."""
    def visit():
        annotator = Annotator(base, cookie, time.monotonic() + 60, (0, 0), 0, lambda *_: None)
        for _ in range(3):
            annotator.open_page(first=True)

    threads = [threading.Thread(target=visit) for _ in range(max(2, parallel))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    from curation.models import Example

    Example.objects.exclude(claimed_by=None).update(claimed_by=None, claimed_until=None)


# --- Figures ---------------------------------------------------------------------------------------------------------

class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times = defaultdict(list)
        self.errors = defaultdict(list)

    def __call__(self, action, ms, ok, status):
        with self.lock:
            self.times[action].append(ms)
            if not ok:
                self.errors[action].append(status)


def percentile(sorted_values, share):
    return sorted_values[min(len(sorted_values) - 1, int(round(share * (len(sorted_values) - 1))))]


def report(recorder, seconds, target=200.0):
    """Prints the figures; returns (requests, errors, worst p95 of the queue's actions)."""
    order = ["review page", "similar", "approve", "reject", "next", "edit form", "edit save", "static"]
    total = sum(len(values) for values in recorder.times.values())
    errors = sum(len(values) for values in recorder.errors.values())
    print(f"\n  {'action':<12} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}")
    worst = 0.0
    for action in [a for a in order if a in recorder.times] + sorted(set(recorder.times) - set(order)):
        values = sorted(recorder.times[action])
        p95 = percentile(values, 0.95)
        if action != "static":
            worst = max(worst, p95)
        print(f"  {action:<12} {len(values):>8} {statistics.median(values):>8.1f} {p95:>8.1f} "
              f"{percentile(values, 0.99):>8.1f} {values[-1]:>8.1f} {len(recorder.errors[action]):>7}")
    every = sorted(ms for action, values in recorder.times.items() if action != "static" for ms in values)
    print(f"  {'all but static':<12} {len(every):>8} {statistics.median(every):>8.1f} {percentile(every, 0.95):>8.1f} "
          f"{percentile(every, 0.99):>8.1f} {every[-1]:>8.1f}")
    print(f"\n  {total:,} requests in {seconds:.1f} s = {total / seconds:.1f} requests/s; errors: {errors}"
          + (f" ({dict((a, sorted(set(map(str, s)))) for a, s in recorder.errors.items())})" if errors else ""))
    print(f"  worst p95 of an action {worst:.1f} ms [{'ok' if worst < target else 'OVER'} < {target:.0f} ms]")
    return total, errors, worst


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` or a CI runner: stop gunicorn on the way out
    admin_url, url = database_urls(args.database)
    reuse = args.keep and database_exists(admin_url, args.database)
    if not reuse:
        recreate_database(admin_url, args.database)
    env = server_environment(url, args.conn_max_age)
    os.environ.update({name: env[name] for name in ("DATABASE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS",
                                                    "SECURE_SSL_REDIRECT")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    shape = f"{args.threads} threads" if args.worker_class == "gthread" else "one request at a time"
    print(f"bench/load.py: {args.users} annotators for {args.seconds:g} s, gunicorn {args.worker_class} {args.workers} "
          f"workers × {shape}, DB_CONN_MAX_AGE={args.conn_max_age}, PostgreSQL {connection.cursor().connection.info.server_version}, "
          f"{os.cpu_count()} cores, think time {args.think[0]:g}–{args.think[1]:g} s")
    cookies = prepare(args, url, reuse)
    connection.close()
    port = free_port()
    server = start_server(env, port, args.workers, args.threads, args.worker_class)
    try:
        warm_up(f"http://127.0.0.1:{port}", cookies[0], args.workers * args.threads)
        cpu = ServerCPU(server, args.database)
        cpu_before = cpu.snapshot()
        client_before = time.process_time()
        recorder = Recorder()
        started = time.monotonic()
        deadline = started + args.seconds
        annotators = [Annotator(f"http://127.0.0.1:{port}", cookie, deadline, tuple(args.think), args.seed * 1000 + n,
                                recorder) for n, cookie in enumerate(cookies)]
        for annotator in annotators:
            annotator.start()
            time.sleep(min(0.05, args.seconds / 100))  # people do not all press a key in the same millisecond
        for annotator in annotators:
            annotator.join(timeout=max(1.0, deadline - time.monotonic()) + 70)
        elapsed = time.monotonic() - started
        spent = ServerCPU.spent(cpu_before, cpu.snapshot())
        client_cpu = time.process_time() - client_before
    finally:
        stop_server(server)
    total, errors, _ = report(recorder, elapsed)
    if total:
        print(f"  server CPU per request: {1000 * sum(spent.values()) / total:.1f} ms (gunicorn "
              f"{1000 * spent['gunicorn'] / total:.1f} ms, PostgreSQL {1000 * spent['PostgreSQL'] / total:.1f} ms"
              + ("; backends that closed are not counted" if args.conn_max_age == 0 else "") + ")")
        print(f"  CPU in use: server {sum(spent.values()) / elapsed:.2f} cores, this load generator "
              f"{client_cpu / elapsed:.2f} cores, of {os.cpu_count()}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
