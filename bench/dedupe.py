"""Near-duplicate search at 100k examples on PostgreSQL: the full pass's time, and recall and precision of planted
near-duplicates.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/dedupe.py \\
        [--examples 100000] [--planted 0.015] [--database lima_bench_dedupe]

It (re)creates the database named by --database, migrates it and loads `--examples` examples with COPY, with
the lengths of LIMA's sources (bench/table.py's SOURCES: Stack Exchange ~470/2,100 characters of prompt/response,
wikiHow ~50/7,200, r/WritingPrompts ~140/1,100, Super-NaturalInstructions ~950/370, hand-written ~160/1,340; 3 %
multi-turn, 1 % prompt-only). Responses are sentences of LIMA's own training answers recombined (bench/table.py's
Writer); prompts are words drawn with Zipf's law from LIMA's vocabulary, so that two prompts are alike only when
planted. `--planted` of the examples get one near-duplicate each, of one of four kinds:

- whitespace: prompt and response re-spaced (new lines, doubled spaces);
- word: one word of the prompt and one of the response replaced;
- sentence: a sentence appended to the response;
- reworded: a new prompt over the same response.

Then it times `curation.dedupe.index.refresh()` from no signature at all (the full pass: sign every example,
build both LSH indexes, cluster, store), and an incremental pass after 100 edits; and counts, over the pairs
inside the clusters found, recall (planted pairs found) and precision (pairs found that were planted).
Targets (issue 12): the full pass < 60 s on 2 cores; recall ≥ 0.9 at precision ≥ 0.9.
"""
import argparse
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.table import SOURCES, Writer, _copy, _db_row, database_urls, recreate_database  # noqa: E402

KINDS = ("whitespace", "word", "sentence", "reworded")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--planted", type=float, default=0.015, help="share of examples given a near-duplicate")
    parser.add_argument("--database", default="lima_bench_dedupe")
    return parser.parse_args()


class Prompts:
    """Questions of Zipf-distributed words of LIMA's answers: realistic words, chance overlaps only."""

    def __init__(self, rng, writer):
        counts = Counter(w for s in writer.sentences for w in re.findall(r"[A-Za-z']+", s.lower()))
        self.words = [w for w, _ in counts.most_common(30_000)]
        self.weights = [1 / (rank + 1) for rank in range(len(self.words))]
        self.rng = rng

    def text(self, chars):
        count = max(4, int(self.rng.lognormvariate(0, 0.45) * chars / 6))
        return " ".join(self.rng.choices(self.words, self.weights, k=count)).capitalize() + "?"


def respace(text):
    return "  " + text.replace(". ", ".\n\n  ").replace(" ", "  ", 3) + "\n"


def change_word(rng, text):
    words = text.split(" ")
    i = rng.randrange(len(words))
    words[i] = "different" if words[i] != "different" else "other"
    return " ".join(words)


def load(count, planted_share):
    """Examples, turns and first revisions with COPY; returns the planted pairs {(original, copy): kind}."""
    from django.db import connection, transaction

    from curation.models import Example, ImportRun, Revision, Turn
    from curation.services import content_hash, get_or_create_source

    rng = random.Random(12)
    writer = Writer(rng)
    prompts = Prompts(rng, writer)
    sources = [(get_or_create_source(kind, name), domains, p, r) for kind, name, domains, p, r, _ in SOURCES]
    weights = [share for *_, share in SOURCES]
    runs = [ImportRun.objects.create(source=source, file=f"bench-{source.kind}", status="succeeded")
            for source, *_ in sources]
    now = datetime.now(timezone.utc)
    originals = round(count * planted_share)
    conversations = []
    for _ in range(count - originals):
        index = rng.choices(range(len(sources)), weights)[0]
        _, _, prompt_chars, response_chars = sources[index]
        shape = rng.random()
        if shape < 0.01:
            texts = [prompts.text(prompt_chars)]
        elif shape < 0.04:
            texts = [prompts.text(prompt_chars), writer.text(response_chars // 2), prompts.text(prompt_chars // 2),
                     writer.text(response_chars // 2)]
        else:
            texts = [prompts.text(prompt_chars), writer.text(response_chars)]
        conversations.append((index, texts))
    planted = {}
    for position in rng.sample(range(len(conversations)), originals):
        index, texts = conversations[position]
        if len(texts) != 2:
            texts = texts[:2] if len(texts) > 2 else texts + [writer.text(sources[index][3])]
            conversations[position] = (index, texts)
        kind = rng.choice(KINDS)
        prompt, response = texts
        if kind == "whitespace":
            copy = [respace(prompt), respace(response)]
        elif kind == "word":
            copy = [change_word(rng, prompt), change_word(rng, response)]
        elif kind == "sentence":
            copy = [prompt, response + " " + rng.choice(writer.sentences)]
        else:
            copy = [prompts.text(sources[index][2]), response]
        conversations.append((index, copy))
        planted[(position + 1, len(conversations))] = kind  # ids are positions + 1
    examples, turns, revisions = [], [], []
    for pk, (index, texts) in enumerate(conversations, start=1):
        source, domains, _, _ = sources[index]
        common = {"status": "candidate", "split": "unassigned", "tags": [], "content_hash": content_hash(texts),
                  "domain": rng.choice(domains)}
        examples.append(_db_row(Example, {"id": pk, "source_id": source.pk, "external_id": f"bench-{pk}",
                                          "import_run_id": runs[index].pk, "metadata": {}, "version": 1,
                                          "created_at": now, "updated_at": now, **common}))
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
    return planted


def score(clusters, planted):
    found = {pair for members in clusters for pair in combinations(sorted(members), 2)}
    truth = set(planted)
    hits = found & truth
    by_kind = defaultdict(lambda: [0, 0])
    for pair, kind in planted.items():
        by_kind[kind][1] += 1
        by_kind[kind][0] += pair in hits
    return len(hits) / max(1, len(truth)), len(hits) / max(1, len(found)), len(found), by_kind


def main():
    args = parse_args()
    admin_url, url = database_urls(args.database)
    recreate_database(admin_url, args.database)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from curation.dedupe import index, signatures
    from curation.models import Example
    from curation.services import edit_example

    print(f"bench/dedupe.py: {args.examples:,} examples on PostgreSQL {connection.cursor().connection.info.server_version}, "
          f"{os.cpu_count()} cores, DEDUPE_PROCESSES={settings.DEDUPE_PROCESSES}, thresholds prompt "
          f"{settings.DEDUPE_PROMPT_THRESHOLD} / response {settings.DEDUPE_RESPONSE_THRESHOLD}")
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    planted = load(args.examples, args.planted)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT sum(length(text)) FROM curation_turn")
        characters = cursor.fetchone()[0]
    print(f"  loaded {Example.objects.count():,} examples ({characters / 1e6:,.0f} M characters), "
          f"{len(planted):,} planted pairs, in {time.perf_counter() - started:.1f} s")

    phases = {}
    started = time.perf_counter()
    signed = signatures.update_stale()
    phases["sign"] = time.perf_counter() - started
    started = time.perf_counter()
    loaded = signatures.load()
    phases["load"] = time.perf_counter() - started
    started = time.perf_counter()
    found = index.clusters_of(loaded)
    phases["lsh + cluster"] = time.perf_counter() - started
    started = time.perf_counter()
    index.store(found)
    phases["store"] = time.perf_counter() - started
    total = sum(phases.values())
    clusters = [members for members, _, _ in found]
    print(f"  full pass: {total:.1f} s (target < 60 s) = " + " + ".join(f"{k} {v:.1f}" for k, v in phases.items())
          + f"; {signed:,} signed ({signed / phases['sign']:,.0f}/s), {len(clusters):,} clusters of "
            f"{sum(map(len, clusters)):,} examples")
    recall, precision, pairs, by_kind = score(clusters, planted)
    print(f"  recall {recall:.3f} (target ≥ 0.9), precision {precision:.3f} (target ≥ 0.9) over {pairs:,} pairs found")
    print("  recall by kind: " + ", ".join(f"{kind} {hit / n:.3f} ({hit}/{n})" for kind, (hit, n) in
                                           sorted(by_kind.items())))

    rng = random.Random(5)
    for example in Example.objects.filter(pk__in=rng.sample(range(1, args.examples + 1), 100)):
        texts = list(example.turns.values_list("text", flat=True))
        texts[-1] += " An edit."
        edit_example(example, expected_version=example.version, author=None, turns=texts)
    started = time.perf_counter()
    clusters = index.refresh()
    incremental = time.perf_counter() - started
    print(f"  incremental pass after 100 edits: {incremental:.1f} s (signs 100, rebuilds the indexes from the "
          f"stored signatures)")


if __name__ == "__main__":
    main()
