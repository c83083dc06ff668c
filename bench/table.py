"""The examples table at 100k examples on PostgreSQL: search, filter, sort + page, and a bulk approve of 10k.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/table.py \\
        [--examples 100000] [--bulk 10000] [--runs 40] [--database lima_bench_table] [--keep]

It (re)creates the database named by --database on the server of DATABASE_URL, migrates it, and loads
`--examples` examples with COPY: five sources with LIMA's lengths (Table 1 — Stack Exchange ~470/2,100
characters of prompt/response over 12 sites, wikiHow ~50/7,200 over 19 categories, r/WritingPrompts
~140/1,100, Super-NaturalInstructions ~950/370, hand-written ~160/1,340), 3 % multi-turn, 1 % prompt-only,
80 % candidates. The text is sentences of LIMA's own 1,000 training answers (../shared/data) recombined, so
that words are as frequent as in real answers; without that folder, words drawn with Zipf's law. Then it
builds the summaries and the full-text index with the code the services use (`rebuild_index`) and measures,
`--runs` times each with varied arguments, through `table_page` (the page's query: rows + capped count) and
through the page itself (Django's test client: query, template, HTML):

- search: one to three words of varied frequency, a phrase, a prefix, within responses;
- filter: status + source + domain, a tag, multi-turn, style-unchecked, never reviewed;
- sort + page: by response or prompt length, changed, domain — the first page, then 20 pages on by cursor;
- a bulk approve of `--bulk` candidates matching a filter ("all matching"), as the table runs it.

Targets (issue 12): p95 < 200 ms for search, filter and sort + page; the bulk approve of 10k < 30 s.
"""
import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.samples import SHARED_DATA  # noqa: E402

LIMA = SHARED_DATA / "lima" / "train_1k_fastchat.json"

# (kind, name, domains, prompt chars, response chars, share of the examples) — LIMA.md's Table 1 in characters
# (about four a token).
SOURCES = [
    ("stackexchange", "stackexchange", [f"{s}.stackexchange.com" for s in (
        "cooking", "math", "physics", "travel", "english", "diy", "bicycles", "chemistry", "gardening", "history",
        "music", "parenting")], 470, 2100, 0.40),
    ("wikihow", "wikiHow", ["Food and Entertaining", "Home and Garden", "Health", "Computers and Electronics",
                            "Hobbies and Crafts", "Personal Care and Style", "Pets and Animals", "Travel", "Finance",
                            "Education", "Family Life", "Relationships", "Sports", "Cars", "Work World", "Youth",
                            "Holidays", "Arts", "Philosophy"], 50, 7200, 0.25),
    ("reddit", "r/WritingPrompts", ["WritingPrompts"], 140, 1100, 0.15),
    ("natural_instructions", "Super-NaturalInstructions", [f"task{n}" for n in range(1, 60)], 950, 370, 0.10),
    ("manual", "Hand-written", ["advice", "science", "cooking", "programming", "writing"], 160, 1340, 0.10),
]
# Words of every frequency in LIMA's answers (from "water", in half of them, to none at all), OR, -, prefixes.
SEARCHES = ["water", "recipe", "temperature", "guitar strings", "bicycle chain", "program*", "history OR physics",
            "salt -sugar", "quantum", "interview", "dough yeast", "battery", "garden soil", "photosynthesis",
            "kubernetes", "the", "cast iron skillet"]
# Phrases, whose word positions the GIN index does not hold: every candidate's document is read again.
PHRASES = ['"boiling water"', '"in the first place"', '"cast iron"', '"for example"', '"machine learning"',
           '"the answer is"']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--database", default="lima_bench_table")
    parser.add_argument("--keep", action="store_true", help="reuse the database of an earlier run if it is there")
    return parser.parse_args()


def database_urls(name):
    base = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres")
    if not base.scheme.startswith("postgres"):
        sys.exit("bench/table.py measures PostgreSQL: set DATABASE_URL to a postgres:// URL (any database on the server).")
    return urlunsplit(base._replace(path="/postgres")), urlunsplit(base._replace(path=f"/{name}"))


def database_exists(admin_url, name):
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def recreate_database(admin_url, name):
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# --- Text ---------------------------------------------------------------------------------------------------

class Writer:
    """Text of a given length from LIMA's own sentences (or Zipf-distributed words without them)."""

    def __init__(self, rng):
        self.rng = rng
        self.sentences = []
        if LIMA.exists():
            import re

            for row in json.loads(LIMA.read_text()):
                for turn in row["conversations"][1::2]:
                    self.sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", turn["value"]) if 20 < len(s) < 400]
        if not self.sentences:
            words = [f"w{n}" for n in range(20_000)]
            weights = [1 / (n + 1) for n in range(20_000)]
            self.sentences = [" ".join(rng.choices(words, weights, k=rng.randint(6, 24))).capitalize() + "."
                              for _ in range(30_000)]

    def text(self, chars):
        chars = max(20, int(self.rng.lognormvariate(0, 0.45) * chars))
        parts, length = [], 0
        while length < chars:
            sentence = self.rng.choice(self.sentences)
            parts.append(sentence)
            length += len(sentence) + 1
        return " ".join(parts)[: chars + 200]


# --- Loading ---------------------------------------------------------------------------------------------------

def _fields(model, with_pk):
    return [field for field in model._meta.concrete_fields if with_pk or not field.primary_key]


def _db_row(model, values, with_pk=True):
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


def load(count):
    """Examples, turns and first revisions with COPY (the services would take many minutes for 100k), then the
    summaries and search index with the services' own writer."""
    from django.db import connection, transaction

    from curation.models import Example, ImportRun, Revision, Turn
    from curation.services import content_hash, get_or_create_source
    from curation.workspace.search import rebuild_index

    rng = random.Random(12)
    writer = Writer(rng)
    sources = [(get_or_create_source(kind, name), domains, p, r) for kind, name, domains, p, r, _ in SOURCES]
    weights = [share for *_, share in SOURCES]
    runs = [ImportRun.objects.create(source=source, file=f"bench-{source.kind}", status="succeeded")
            for source, *_ in sources]
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    examples, turns, revisions = [], [], []
    for pk in range(1, count + 1):
        index = rng.choices(range(len(sources)), weights)[0]
        source, domains, prompt_chars, response_chars = sources[index]
        shape = rng.random()
        if shape < 0.01:
            texts, split = [writer.text(prompt_chars) + "?"], "test"
        elif shape < 0.04:
            texts = [writer.text(prompt_chars) + "?", writer.text(response_chars // 2),
                     writer.text(prompt_chars // 2) + "?", writer.text(response_chars // 2)]
            split = "train"
        else:
            texts = [writer.text(prompt_chars) + "?", writer.text(response_chars)]
            split = rng.choice(["unassigned"] * 6 + ["train", "train", "dev", "test"])
        status = rng.choices(["candidate", "approved", "rejected"], [80, 15, 5])[0]
        common = {"status": status, "split": split, "tags": ["keep"] if rng.random() < 0.02 else [],
                  "content_hash": content_hash(texts), "domain": rng.choice(domains)}
        examples.append(_db_row(Example, {
            "id": pk, "source_id": source.pk, "external_id": f"bench-{pk}", "import_run_id": runs[index].pk,
            "metadata": {"url": f"https://example.org/q/{pk}", "score": rng.randint(10, 500)}, "version": 1,
            "created_at": now, "updated_at": now, **common,
        }))
        turns.extend(_db_row(Turn, {"example_id": pk, "position": i, "role": ("user", "assistant")[i % 2],
                                    "text": text}, with_pk=False) for i, text in enumerate(texts))
        revisions.append(_db_row(Revision, {"id": pk, "example_id": pk, "number": 1, "author_id": None,
                                            "created_at": now, "note": "bench", "turns": texts, **common}))
    with transaction.atomic():
        _copy(Example, examples)
        _copy(Revision, revisions)
        _copy(Turn, turns, with_pk=False)
        with connection.cursor() as cursor:
            for model in (Example, Revision):
                table = model._meta.db_table
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    indexed = rebuild_index(Example, Turn, batch=2000)
    index_seconds = time.perf_counter() - started
    return loaded, indexed, index_seconds


# --- Measuring ---------------------------------------------------------------------------------------------------

def timed(function, runs):
    """(p50, p95, max) in ms of `function(i)` over `runs` calls, after one warm-up call."""
    function(0)
    times = []
    for i in range(runs):
        started = time.perf_counter()
        function(i)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))], times[-1]


def line(label, figures, target=200):
    p50, p95, worst = figures
    verdict = "ok" if p95 < target else "OVER"
    print(f"  {label:<58} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   max {worst:7.1f} ms   [{verdict}]")
    return p95


def main():
    args = parse_args()
    admin_url, url = database_urls(args.database)
    reuse = args.keep and database_exists(admin_url, args.database)
    if not reuse:
        recreate_database(admin_url, args.database)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from core.roles import ANNOTATOR, ensure_roles
    from curation.models import Example, Review, Revision, Source
    from curation.workspace.bulk import Selection, start_bulk_action
    from curation.workspace.search import search_examples
    from curation.workspace.table import Sort, TableFilters, table_page

    print(f"bench/table.py: {args.examples:,} examples on PostgreSQL {connection.cursor().connection.info.server_version}, "
          f"{os.cpu_count()} cores")
    if not reuse:
        call_command("migrate", verbosity=0)
        loaded, indexed, index_seconds = load(args.examples)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"  loaded with COPY in {loaded:.1f} s; summaries + full-text index of {indexed:,} examples "
              f"(rebuild_index, the services' writer) in {index_seconds:.1f} s = {indexed / index_seconds:,.0f} examples/s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_relation_size('summary_document_gin')), "
                       "pg_size_pretty(pg_total_relation_size('curation_examplesummary'))")
        gin, summaries = cursor.fetchone()
    print(f"  GIN index {gin}; summaries with their tsvectors {summaries}")

    ensure_roles()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user, _ = get_user_model().objects.get_or_create(username="bench-annotator")
    user.groups.add(Group.objects.get(name=ANNOTATOR))
    client = Client()
    client.force_login(user)
    sources = list(Source.objects.all())
    domains = {s.pk: list(Example.objects.filter(source=s).values_list("domain", flat=True).distinct()[:20])
               for s in sources}
    rng = random.Random(4)

    def page(filters, sort="-id", cursor=None):
        return table_page(filters, sort=Sort.parse(sort), cursor=cursor)

    def http(params):
        response = client.get("/examples/?" + urlencode(params))
        assert response.status_code == 200, response.status_code
        return response

    print("\nSearch (first page of 50 + capped count):")
    p95s = []
    p95s.append(line("table_page, q from 17 queries (words, OR, -, prefix)",
                     timed(lambda i: page(TableFilters(q=SEARCHES[i % len(SEARCHES)])), args.runs)))
    phrase_p95 = line("table_page, q a phrase (6 phrases of common words)",
                      timed(lambda i: page(TableFilters(q=PHRASES[i % len(PHRASES)])), args.runs))
    p95s.append(line("table_page, within responses",
                     timed(lambda i: page(TableFilters(q=SEARCHES[i % len(SEARCHES)], within="response")), args.runs)))
    p95s.append(line("GET /examples/?q=… (query + template + HTML)",
                     timed(lambda i: http({"q": SEARCHES[i % len(SEARCHES)]}), args.runs)))
    p95s.append(line("GET /api/examples/?search=… (page of 50)",
                     timed(lambda i: client.get("/api/examples/?" + urlencode({"search": SEARCHES[i % len(SEARCHES)]})),
                           args.runs)))

    print("\nFilter:")

    def some_filter(i):
        source = sources[i % len(sources)]
        return TableFilters(status=rng.choice(["candidate", "approved"]), source=str(source.pk),
                            domain=rng.choice(domains[source.pk]))
    p95s.append(line("status + source + domain", timed(lambda i: page(some_filter(i)), args.runs)))
    p95s.append(line("tag (2 % of the examples)", timed(lambda i: page(TableFilters(tag="keep")), args.runs)))
    p95s.append(line("multi-turn / prompt only (alternately)",
                     timed(lambda i: page(TableFilters(flag=["multi_turn", "prompt_only"][i % 2])), args.runs)))
    p95s.append(line("never reviewed + split train",
                     timed(lambda i: page(TableFilters(reviewed="no", split="train")), args.runs)))
    p95s.append(line("style not checked (a registered filter)",
                     timed(lambda i: page(TableFilters(extra=(("style", "unchecked"),))), args.runs)))
    p95s.append(line("search + status + source",
                     timed(lambda i: page(TableFilters(q=SEARCHES[i % len(SEARCHES)], status="candidate",
                                                       source=str(sources[i % len(sources)].pk))), args.runs)))
    p95s.append(line("GET /examples/?status=…&source=…&domain=…",
                     timed(lambda i: http(some_filter(i).as_dict()), args.runs)))

    print("\nSort + page (first page, then pages 2-21 by cursor):")
    for sort in ("-response", "prompt", "-turns", "-updated", "domain", "-style"):
        first = page(TableFilters(), sort)
        cursors = [first.next_cursor]
        for _ in range(20):
            cursors.append(page(TableFilters(), sort, cursors[-1]).next_cursor)
        p95s.append(line(f"sort={sort}: a page by cursor",
                         timed(lambda i, sort=sort, cursors=cursors: page(TableFilters(), sort, cursors[i % len(cursors)]),
                               args.runs)))
    p95s.append(line("sort=-response + status (candidate, approved, rejected), first page",
                     timed(lambda i: page(TableFilters(status=["candidate", "approved", "rejected"][i % 3]),
                                          "-response"), args.runs)))
    deep = page(TableFilters(), "-response")
    for _ in range(200):
        deep = page(TableFilters(), "-response", deep.next_cursor)
    p95s.append(line("sort=-response, page 201 (10,000 rows in)",
                     timed(lambda i: page(TableFilters(), "-response", deep.next_cursor), args.runs)))
    p95s.append(line("GET /examples/?sort=-response&cursor=… (page 201)",
                     timed(lambda i: http({"sort": "-response", "cursor": deep.next_cursor}), args.runs)))

    with connection.cursor() as cursor:
        sql, params = search_examples(Example.objects.all(), "guitar strings").values("pk").query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    print("\n  EXPLAIN of a search:", " / ".join(step.strip() for step in plan if "Scan" in step or "Join" in step))

    print(f"\nBulk approve of {args.bulk:,} candidates (all matching a filter, as the table runs it):")
    with connection.cursor() as cursor:  # a tag on the first `bulk` candidates: the filter selects exactly them
        cursor.execute("UPDATE curation_example SET tags = '[]' WHERE tags @> '[\"bulk-bench\"]'")  # an earlier run's
        cursor.execute("UPDATE curation_example SET tags = '[\"bulk-bench\"]' WHERE id IN (SELECT id FROM "
                       "curation_example WHERE status = 'candidate' ORDER BY id LIMIT %s)", [args.bulk])
    settings.BULK_JOB_MIN_EXAMPLES = 10**9  # run it here, with the code a worker runs
    reviews_before, revisions_before = Review.objects.count(), Revision.objects.count()
    started = time.perf_counter()
    job = start_bulk_action(user, "approve", selection=Selection.from_dict({"filters": {"tag": "bulk-bench"}}))
    seconds = time.perf_counter() - started
    print(f"  {job.status}: {job.changed:,} approved, {job.skipped_count} skipped, in {seconds:.1f} s "
          f"({job.changed / seconds:,.0f} examples/s) [{'ok' if seconds < 30 else 'OVER'} < 30 s]")
    print(f"  written: {Revision.objects.count() - revisions_before:,} revisions, "
          f"{Review.objects.count() - reviews_before:,} reviews")

    worst = max(p95s)
    print(f"\nWorst p95 {worst:.1f} ms [{'ok' if worst < 200 else 'OVER'} < 200 ms] (phrases apart: {phrase_p95:.1f} ms); "
          f"bulk {seconds:.1f} s")


if __name__ == "__main__":
    main()
