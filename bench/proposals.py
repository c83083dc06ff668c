"""Proposing 1,000 examples out of 100k on PostgreSQL, end to end, against the pick alone.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/proposals.py \\
        [--examples 100000] [--size 1000] [--database lima_bench_proposals] [--keep]

It (re)creates the database named by --database, migrates it and loads with COPY what a proposal reads: examples
of the five sources in bench/table.py's shares (80 % candidates, 15 % approved, 5 % rejected; a tenth in dev or
test), their summaries (response lengths lognormal around LIMA's Table 1 means), a 384-dimension unit embedding
each (all-MiniLM-L6-v2's size) drawn around 500 topics, the length-percentile and style scores, and near-duplicate
clusters holding 2 % of the examples. Then it times

- the proposal as the studio runs it (`start_proposal(size=…, run_async=False)`: the job's claim and end, reading
  the pool, the scores, the embeddings and the clusters, the pick and the figures), three runs;
- the baseline: the pick alone (`curation.proposals.select.propose`) on the same arrays in memory.

Target (issue 12): a proposal of 1,000 out of 100k in < 30 s. Texts are not loaded: a proposal reads none.
"""
import argparse
import os
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from table import SOURCES, _copy, _db_row, database_exists, database_urls, recreate_database  # noqa: E402

DIM = 384
TOPICS = 500
# LIMA.md, Table 1: mean response tokens of each source, in bench/table.py's order.
RESPONSE_TOKENS = {"stackexchange": 525, "wikihow": 1811, "reddit": 274, "natural_instructions": 92, "manual": 334}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--database", default="lima_bench_proposals")
    parser.add_argument("--keep", action="store_true", help="reuse the database of an earlier run if it is there")
    return parser.parse_args()


def unit_vectors(rng, count):
    centres = rng.normal(size=(TOPICS, DIM)).astype(np.float32)
    vectors = centres[rng.integers(0, TOPICS, size=count)] + 0.6 * rng.normal(size=(count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def load(count):
    from django.db import connection, transaction

    from curation.models import (
        DuplicateCluster,
        DuplicateMember,
        Embedding,
        Example,
        ExampleSummary,
        ImportRun,
        Score,
    )
    from curation.services import get_or_create_source
    from curation.signals.compute import embedding_model_name

    rng, nprng = random.Random(7), np.random.default_rng(7)
    sources = [(get_or_create_source(kind, name), kind, domains) for kind, name, domains, *_ in SOURCES]
    weights = [share for *_, share in SOURCES]
    runs = [ImportRun.objects.create(source=source, file=f"bench-{kind}", status="succeeded") for source, kind, _ in sources]
    vectors = unit_vectors(nprng, count)
    model_name = embedding_model_name()
    now = datetime.now(timezone.utc)
    examples, summaries, embeddings, scores = [], [], [], []
    for pk in range(1, count + 1):
        index = rng.choices(range(len(sources)), weights)[0]
        source, kind, domains = sources[index]
        content = f"{pk:064x}"
        tokens = max(8, int(rng.lognormvariate(0, 0.5) * RESPONSE_TOKENS[kind]))
        examples.append(_db_row(Example, {
            "id": pk, "source_id": source.pk, "external_id": f"bench-{pk}", "import_run_id": runs[index].pk,
            "domain": rng.choice(domains), "status": rng.choices(["candidate", "approved", "rejected"], [80, 15, 5])[0],
            "split": rng.choice(["unassigned"] * 7 + ["train", "train", "dev" if pk % 2 else "test"]),
            "metadata": {"score": rng.randint(10, 500)}, "version": 1, "content_hash": content,
            "created_at": now, "updated_at": now, "tags": [],
        }))
        summaries.append(_db_row(ExampleSummary, {
            "example_id": pk, "content_hash": content, "first_line": f"Question {pk}?", "prompt_chars": 400,
            "prompt_tokens": 100, "response_chars": 4 * tokens, "response_tokens": tokens, "turn_count": 2,
        }))
        embeddings.append(_db_row(Embedding, {
            "example_id": pk, "model_name": model_name, "content_hash": content, "dim": DIM,
            "vector": vectors[pk - 1].astype("<f4").tobytes(), "updated_at": now,
        }, with_pk=False))
        scores.append(_db_row(Score, {"example_id": pk, "signal": "length_percentile", "content_hash": content,
                                      "value": rng.uniform(0, 100), "computed_by": "", "updated_at": now}, with_pk=False))
        scores.append(_db_row(Score, {"example_id": pk, "signal": "style", "content_hash": content,
                                      "value": rng.choice([0, 0, 0, 1, 2]), "computed_by": "", "updated_at": now},
                              with_pk=False))
    clustered = nprng.choice(np.arange(1, count + 1), size=count // 50, replace=False)
    with transaction.atomic():
        _copy(Example, examples)
        _copy(ExampleSummary, summaries)
        _copy(Embedding, embeddings, with_pk=False)
        _copy(Score, scores, with_pk=False)
        for pair in clustered.reshape(-1, 2):
            cluster = DuplicateCluster.objects.create(kind="response", size=2, similarity=0.9)
            DuplicateMember.objects.bulk_create([DuplicateMember(example_id=int(pk), cluster=cluster) for pk in pair])
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('curation_example', 'id'), %s)", [count])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def main():
    args = parse_args()
    admin_url, url = database_urls(args.database)
    reuse = args.keep and database_exists(admin_url, args.database)
    if not reuse:
        recreate_database(admin_url, args.database)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from curation.proposals import inputs
    from curation.proposals.jobs import start_proposal
    from curation.proposals.quality import combine, scaled_quotas
    from curation.proposals.select import Candidates, propose

    print(f"bench/proposals.py: {args.size:,} out of {args.examples:,} examples on PostgreSQL "
          f"{connection.cursor().connection.info.server_version}, {os.cpu_count()} cores")
    if not reuse:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        load(args.examples)
        print(f"  loaded with COPY in {time.perf_counter() - started:.1f} s")

    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        proposal = start_proposal(size=args.size, run_async=False)
        seconds.append(time.perf_counter() - started)
        assert proposal.status == "succeeded", proposal.error
    figures = proposal.figures
    print(f"  proposal (the job, end to end): {min(seconds):.2f} s best, {max(seconds):.2f} s worst of 3; "
          f"{len(proposal.examples):,} picked from {figures['candidates']:,} candidates, coverage "
          f"{figures['coverage']['proposed']:.3f} (approved set of {figures['coverage']['approved_count']:,}: "
          f"{figures['coverage']['approved']:.3f})")

    parts = {}
    started = time.perf_counter()
    pool = inputs.load_pool()
    parts["pool"] = time.perf_counter() - started
    started = time.perf_counter()
    columns = inputs.quality_columns(pool.ids)
    parts["scores"] = time.perf_counter() - started
    started = time.perf_counter()
    matrix, _ = inputs.vectors(pool.ids)
    parts["embeddings"] = time.perf_counter() - started
    started = time.perf_counter()
    clusters = inputs.clusters(pool.ids)
    parts["clusters"] = time.perf_counter() - started
    candidates = Candidates(ids=pool.ids, groups=pool.groups, quality=combine(columns), vectors=matrix, clusters=clusters)
    quotas = scaled_quotas(inputs.train_targets("lima"), args.size)
    started = time.perf_counter()
    propose(candidates, quotas)
    parts["pick alone (baseline)"] = time.perf_counter() - started
    print("  where the time goes: " + ", ".join(f"{name} {value:.2f} s" for name, value in parts.items()))
    print(f"  the job / the pick alone: {min(seconds) / parts['pick alone (baseline)']:.1f}×; target < 30 s: "
          f"{'met' if max(seconds) < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
