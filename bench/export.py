"""Export throughput: the API's streamed JSONL export of a frozen version, over a real HTTP server, against
PostgreSQL's own `COPY (SELECT ...) TO STDOUT` of the same conversations through psql, in one run.

    .venv/bin/python bench/export.py [--examples 100000] [--small 10000] [--database lima_bench_export]

It (re)creates the database named by --database on the PostgreSQL server of DATABASE_URL (default
postgres://postgres@127.0.0.1:5432), bulk-loads examples of 2-4 turns (~2 KB each) with COPY, freezes a
version of the first `--small` examples and one of all of them, starts gunicorn (one sync worker) in a
subprocess and downloads `/api/datasets/<id>/export/?format=lima` for each, sampling the worker's resident
memory. It prints MB/s of both, their ratio, and the worker's peak RSS at both sizes.

Targets (issue 5): API/COPY ratio >= 0.25; peak RSS flat in the number of examples.
"""
import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORDS = (
    "the of and to in is that it for as with was on be by this are or an at from which not but have can "
    "water heat pan butter egg flour salt time minutes answer question example because should would could "
    "first second then finally however therefore usually often rarely always never people model data train "
    "test value function return loop variable string list table column index query server client request "
    "response memory cache disk file folder network packet bridge cable tower river mountain forest garden"
).split()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="size of the smaller version")
    parser.add_argument("--test-prompts", type=int, default=300, help="prompt-only test rows (LIMA: 300)")
    parser.add_argument("--database", default="lima_bench_export")
    parser.add_argument("--format", default="lima")
    return parser.parse_args()


def database_urls(name):
    base = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres")
    if not base.scheme.startswith("postgres"):
        sys.exit("bench/export.py measures PostgreSQL: set DATABASE_URL to a postgres:// URL (any database on the server).")
    return urlunsplit(base._replace(path="/postgres")), urlunsplit(base._replace(path=f"/{name}"))


def recreate_database(admin_url, name):
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def text_of(rng, approx_chars):
    return " ".join(rng.choices(WORDS, k=max(1, approx_chars // 6))).capitalize() + "."


def conversation(rng):
    """2 or 4 turns (3 would end on the user), about 2 KB in all."""
    turns = rng.choice((2, 2, 4))
    if turns == 2:
        return [text_of(rng, 250) + "?", text_of(rng, 1750)]
    return [text_of(rng, 150) + "?", text_of(rng, 800), text_of(rng, 120) + "?", text_of(rng, 900)]


def _fields(model, with_pk):
    return [field for field in model._meta.concrete_fields if with_pk or not field.primary_key]


def _db_row(model, values, with_pk=True):
    """A COPY row for `model`: given values, else each field's default, as the database wants them."""
    from django.db import connection
    from django.db.models import JSONField

    row = []
    for field in _fields(model, with_pk):
        value = values[field.attname] if field.attname in values else field.get_default()
        if isinstance(field, JSONField):
            row.append(None if value is None else json.dumps(value, ensure_ascii=False))
        else:
            row.append(field.get_db_prep_save(value, connection))
    return row


def _copy(model, rows, with_pk=True):
    from django.db import connection

    columns = ", ".join(f'"{field.column}"' for field in _fields(model, with_pk))
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)


def load_examples(count, small, test_prompts):
    """Examples, their turns and first revisions, written with COPY (the services would take minutes)."""
    from django.db import connection, transaction

    from curation.models import Example, Revision, Turn
    from curation.services import content_hash, manual_source

    rng = random.Random(5)
    source = manual_source()
    now = datetime.now(timezone.utc)
    examples, turns, revisions = [], [], []
    for pk in range(1, count + 1):
        if pk > count - test_prompts:
            texts, split = [text_of(rng, 200) + "?"], "test"
        else:
            texts, split = conversation(rng), "train"
        tags = ["bench-small"] if pk <= small else []
        common = {"status": "approved", "split": split, "tags": tags, "content_hash": content_hash(texts)}
        examples.append(_db_row(Example, {
            "id": pk, "source_id": source.pk, "external_id": f"bench-{pk}", "domain": rng.choice(WORDS[:40]),
            "metadata": {"url": f"https://example.org/q/{pk}", "score": rng.randint(10, 500)}, "version": 1,
            "created_at": now, "updated_at": now, **common,
        }))
        turns.extend(
            _db_row(Turn, {"example_id": pk, "position": i, "role": ("user", "assistant")[i % 2], "text": text},
                    with_pk=False)
            for i, text in enumerate(texts)
        )
        revisions.append(_db_row(Revision, {
            "id": pk, "example_id": pk, "number": 1, "author_id": None, "created_at": now, "note": "bench",
            "turns": texts, "domain": "", **common,
        }))
    with transaction.atomic():
        _copy(Example, examples)
        _copy(Revision, revisions)
        _copy(Turn, turns, with_pk=False)
        with connection.cursor() as cursor:
            for model in (Example, Revision):
                table = model._meta.db_table
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            cursor.execute("ANALYZE")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env, port):
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "1",
         "--timeout", "900", "--log-level", "warning"],
        cwd=REPO, env=env, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz/")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    sys.exit("gunicorn did not answer /healthz/ within 60 s")


def worker_process(server):
    import psutil

    children = psutil.Process(server.pid).children()
    if len(children) != 1:
        sys.exit(f"expected one gunicorn worker, found {len(children)}")
    return children[0]


class PeakRSS:
    """The largest resident set of a process seen while the block runs, sampled every 20 ms."""

    def __init__(self, process):
        self.process = process
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self):
        self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def download(port, path, token):
    """(bytes, seconds, lines) of one GET read to the end in 1 MB blocks."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    connection.request("GET", path, headers={"Authorization": f"Token {token}"})
    response = connection.getresponse()
    if response.status != 200:
        sys.exit(f"GET {path}: HTTP {response.status} {response.read()[:300]!r}")
    size = lines = 0
    while block := response.read(1 << 20):
        size += len(block)
        lines += block.count(b"\n")
    return size, time.perf_counter() - started, lines


def psql_copy(url, version_id, bare=False):
    """(bytes, seconds, lines) of psql's COPY of the same rows and fields (conversations, source, id, split) as
    JSON lines; with bare=True only the turns' stored JSON text, the cheapest thing PostgreSQL can send."""
    line = "r.turns::text" if bare else (
        "json_build_object('conversations', r.turns, 'source', s.kind, 'id', i.example_id, 'split', i.split)::text"
    )
    query = (
        f"COPY (SELECT {line} FROM curation_datasetitem i JOIN curation_revision r ON r.id = i.revision_id "
        "JOIN curation_example e ON e.id = i.example_id JOIN curation_source s ON s.id = e.source_id "
        f"WHERE i.version_id = {version_id} ORDER BY i.example_id) TO STDOUT"
    )
    started = time.perf_counter()
    psql = subprocess.Popen(["psql", url, "-X", "-q", "-c", query], stdout=subprocess.PIPE)
    size = lines = 0
    while block := psql.stdout.read(1 << 20):
        size += len(block)
        lines += block.count(b"\n")
    if psql.wait() != 0:
        sys.exit("psql COPY failed")
    return size, time.perf_counter() - started, lines


def main():
    args = parse_args()
    admin_url, url = database_urls(args.database)
    print(f"database: {url}")
    recreate_database(admin_url, args.database)
    env = dict(
        os.environ, DATABASE_URL=url, DEBUG="false", SECRET_KEY="bench-only-secret-key-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost", SECURE_SSL_REDIRECT="false", LOG_LEVEL="WARNING",
    )
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from core.roles import ADMIN, ensure_roles
    from curation.datasets.versions import Selection, freeze_version

    call_command("migrate", verbosity=0)
    admin = get_user_model().objects.create_user("bench-admin")
    admin.groups.add(ensure_roles()[ADMIN])
    token = Token.objects.create(user=admin).key

    started = time.perf_counter()
    load_examples(args.examples, args.small, args.test_prompts)
    print(f"loaded {args.examples:,} examples with COPY in {time.perf_counter() - started:.1f} s")

    versions = []
    for name, selection in ((f"bench-{args.small}", Selection(tags=("bench-small",))), (f"bench-{args.examples}", Selection())):
        started = time.perf_counter()
        version = freeze_version(name, selection=selection).version
        print(f"froze {name}: {version.example_count:,} examples in {time.perf_counter() - started:.1f} s "
              f"(hash {version.content_hash[:12]}…, {version.manifest['contamination']['count']} contamination pairs)")
        versions.append(version)

    from django.db import connections

    connections.close_all()
    port = free_port()
    server = start_server(env, port)
    try:
        worker = worker_process(server)
        download(port, f"/api/datasets/{versions[0].pk}/export/?format={args.format}&split=test", token)  # warm up
        print()
        print(f"{'examples':>9} {'API MB':>8} {'API MB/s':>9} {'COPY MB':>8} {'COPY MB/s':>10} {'ratio':>6} "
              f"{'rows/s ratio':>12} {'worker peak RSS':>16}")
        results = []
        for version in versions:
            with PeakRSS(worker) as rss:
                api_bytes, api_seconds, api_lines = download(
                    port, f"/api/datasets/{version.pk}/export/?format={args.format}", token
                )
            copy_bytes, copy_seconds, copy_lines = psql_copy(url, version.pk)
            bare_bytes, bare_seconds, _ = psql_copy(url, version.pk, bare=True)
            assert api_lines == copy_lines == version.example_count, (api_lines, copy_lines, version.example_count)
            api_rate, copy_rate = api_bytes / api_seconds / 1e6, copy_bytes / copy_seconds / 1e6
            results.append((version.example_count, rss.peak, api_rate / (bare_bytes / bare_seconds / 1e6)))
            print(f"{version.example_count:>9,} {api_bytes / 1e6:>8.1f} {api_rate:>9.1f} {copy_bytes / 1e6:>8.1f} "
                  f"{copy_rate:>10.1f} {api_rate / copy_rate:>6.2f} {copy_seconds / api_seconds:>12.2f} "
                  f"{rss.peak / 2**20:>13.1f} MB")
        (small_n, small_rss, small_bare), (big_n, big_rss, big_bare) = results
        print()
        print(f"ratio target >= 0.25 (MB/s of the API over MB/s of COPY); RSS at {big_n:,} vs {small_n:,}: "
              f"{big_rss / small_rss:.2f}x (target: flat)")
        print(f"against COPY of the bare turns (r.turns::text, no JSON building): ratio {small_bare:.2f} at "
              f"{small_n:,}, {big_bare:.2f} at {big_n:,}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
