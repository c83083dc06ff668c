"""Stack Exchange import speed and memory, against a bare lxml pass over the same file, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lima_bench .venv/bin/python bench/ingest.py \\
        [--mb 50 200] [--repeat 3] [--baseline-code DIR]

For each size, a synthetic Posts.xml is written by bench/ingest_data.py (realistic HTML bodies; scores,
lengths and answers per question drawn from the real dumps, so most answers fail LIMA's score rule), then:

  (a) a bare `lxml.etree.iterparse` pass that only reads every row (and clears it), in this process;
  (b) the full import, `manage.py import_source stackexchange FOLDER --json`, into PostgreSQL, in a child
      process whose peak RSS is read from os.wait4's rusage (its own helper processes included);
  (c) the Stack Exchange parser alone (curation.sources.stackexchange.iter_records, no database), to show
      how (b)'s time splits between parsing and the database side.

Also timed once: (d) the same command on a dump with no rows: the fixed cost of a run (Python and Django
starting, the run's rows, exiting), which (b) includes. With --baseline-code DIR, (b) is also timed with the
code of another checkout (e.g. `git archive OLD | tar -x -C DIR`), in the same run, for before/after figures.

Each pass runs `--repeat` times (default 3), interleaved, and the best time counts, the usual way to measure
on a shared machine; the load average is printed beside. Targets (issue 3): ratio b/a >= 0.35 on a file of
>= 200 MB; peak RSS < 400 MB and not growing with the file's size. The files are kept under
var/bench/ingest/ and reused when present. The run ends with a summary table in Markdown, for the README.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest_data import write_posts_xml  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/lima_bench"
RATIO_TARGET = 0.35
RATIO_FILE_MB = 200
RSS_TARGET_MB = 400


def bare_pass(path):
    """(a): every <row> parsed and cleared, nothing else."""
    rows = 0
    started = time.perf_counter()
    with open(path, "rb") as handle:
        for _, element in etree.iterparse(handle, events=("end",), tag="row", huge_tree=True):
            rows += 1
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]
    return rows, time.perf_counter() - started


def run_child(args, env, cwd=REPO):
    """Run a child process to the end; return (exit code, stdout, stderr, seconds, peak RSS in MB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return child.returncode, out.read().decode(), err.read().decode(), seconds, usage.ru_maxrss / 1024


def ensure_database(env):
    """Create the benchmark's database when missing and migrate it (not timed)."""
    url = env["DATABASE_URL"]
    if url == DEFAULT_DATABASE_URL:
        import psycopg

        with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = 'lima_bench'").fetchone():
                connection.execute("CREATE DATABASE lima_bench")
    code, out, err, _, _ = run_child([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env)
    if code:
        raise SystemExit(f"migrate failed:\n{err}")


def timed_import(folder, env, code_dir=REPO):
    """(b): one import through the command, under a new source name (so that it creates its examples
    rather than finding them unchanged). Returns (seconds, ImportRun seconds, peak RSS MB, --json summary)."""
    name = f"{folder.name.split('.')[0]}-{time.time_ns()}.stackexchange.com"
    code, out, err, seconds, peak_mb = run_child(
        [sys.executable, "manage.py", "import_source", "stackexchange", str(folder), "--name", name, "--json"],
        env, cwd=code_dir,
    )
    if code:
        raise SystemExit(f"the import with {code_dir} failed ({code}):\n{out}\n{err}")
    summary = json.loads(out.strip().splitlines()[-1])
    return seconds, import_duration(env, summary["import_run"]), peak_mb, summary


def import_duration(env, run_id):
    """The ImportRun's own started_at -> finished_at, read in a child so this process stays Django-free."""
    code = (f"from curation.models import ImportRun; r = ImportRun.objects.get(pk={run_id}); "
            "print(r.duration.total_seconds())")
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


PARSER_ONLY = (
    "import sys, time\n"
    "from curation.sources.stackexchange import iter_records\n"
    "started = time.perf_counter()\n"
    "count = sum(1 for _ in iter_records(sys.argv[1]))\n"
    "print(count, time.perf_counter() - started)\n"
)


def parser_only(folder, env):
    """(c): the parser's records, counted and dropped, timed inside a child process."""
    code, out, err, _, _ = run_child([sys.executable, "-c", PARSER_ONLY, str(folder)], env)
    if code:
        raise SystemExit(f"the parser failed:\n{err}")
    return float(out.split()[1])


def synthetic_dump(folder, megabytes):
    site_folder = folder / f"bench{megabytes:g}mb.stackexchange.com"
    site_folder.mkdir(parents=True, exist_ok=True)
    posts = site_folder / "Posts.xml"
    if not posts.exists() or posts.stat().st_size < megabytes * 1_000_000:
        started = time.perf_counter()
        counts = write_posts_xml(posts, megabytes, seed=0)
        print(f"  wrote {posts} ({counts['bytes'] / 1e6:.0f} MB, {counts['rows']:,} rows, "
              f"{counts['questions']:,} questions) in {time.perf_counter() - started:.0f} s", flush=True)
    return site_folder


def fixed_cost(folder, env, repeat):
    """(d): best time of the command on a dump with no rows."""
    empty = folder / "empty.stackexchange.com"
    empty.mkdir(parents=True, exist_ok=True)
    (empty / "Posts.xml").write_text('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n</posts>\n', encoding="utf-8")
    return min(timed_import(empty, env)[0] for _ in range(repeat))


def measure(megabytes, env, folder, repeat, baseline_code):
    site_folder = synthetic_dump(folder, megabytes)
    posts = site_folder / "Posts.xml"
    bare_pass(posts)  # warm the page cache, so every pass reads from memory
    bare, imports, baseline = [], [], []
    for _ in range(repeat):  # interleaved, so that a change in the machine's load hits every kind alike
        bare.append(bare_pass(posts))
        imports.append(timed_import(site_folder, env))
        line = (f"  (a) {bare[-1][1]:.2f} s, (b) {imports[-1][0]:.2f} s (run {imports[-1][1]:.2f} s), "
                f"peak RSS {imports[-1][2]:.0f} MB")
        if baseline_code:
            baseline.append(timed_import(site_folder, env, code_dir=baseline_code))
            line += f", (b) with the baseline code {baseline[-1][0]:.2f} s (run {baseline[-1][1]:.2f} s)"
        print(f"{line}, load {os.getloadavg()[0]:.1f}", flush=True)
    summary = imports[-1][3]
    print(f"  import: read {summary['read']:,} questions, accepted {summary['accepted']:,}, created "
          f"{summary['created']:,}, rejected {sum(summary['rejected'].values()):,} {summary['rejected']}", flush=True)
    return {
        "mb": posts.stat().st_size / 1e6, "rows": bare[0][0], "bare_s": min(s for _, s in bare),
        "import_s": min(i[0] for i in imports), "run_s": min(i[1] for i in imports),
        "peak_mb": max(i[2] for i in imports), "parser_s": min(parser_only(site_folder, env) for _ in range(repeat)),
        "baseline_s": min((i[0] for i in baseline), default=None),
        "baseline_run_s": min((i[1] for i in baseline), default=None),
        "baseline_peak_mb": max((i[2] for i in baseline), default=None),
    }


def summary_table(results, fixed_s, repeat, baseline_code):
    """The Markdown the README shows."""
    rate = lambda rows, seconds: f"{rows / seconds:,.0f} rows/s"  # noqa: E731
    lines = [
        f"Stack Exchange import, bench/ingest.py ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}, best of {repeat}):",
        "",
        "| Posts.xml | rows | (a) bare lxml pass | (b) whole import | b/a | (b) run only | b/a | (b) peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['mb']:.0f} MB | {r['rows']:,} | {rate(r['rows'], r['bare_s'])} | {rate(r['rows'], r['import_s'])} "
            f"| **{r['bare_s'] / r['import_s']:.2f}** | {rate(r['rows'], r['run_s'])} | {r['bare_s'] / r['run_s']:.2f} "
            f"| {r['peak_mb']:.0f} MB |"
        )
    if baseline_code:
        lines += ["", f"The same imports with the code in {baseline_code} (same run):", "",
                  "| Posts.xml | (b) whole import | b/a | (b) run only | b/a | (b) peak RSS |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for r in results:
            lines.append(
                f"| {r['mb']:.0f} MB | {rate(r['rows'], r['baseline_s'])} | **{r['bare_s'] / r['baseline_s']:.2f}** "
                f"| {rate(r['rows'], r['baseline_run_s'])} | {r['bare_s'] / r['baseline_run_s']:.2f} "
                f"| {r['baseline_peak_mb']:.0f} MB |"
            )
    judged = [r for r in results if r["mb"] >= RATIO_FILE_MB] or results[-1:]
    lowest = min(r["bare_s"] / r["import_s"] for r in judged)
    highest_rss = max(r["peak_mb"] for r in results)
    lines += [
        "",
        "- (a) `lxml.etree.iterparse` reading every row, nothing else; (b) `manage.py import_source stackexchange "
        f"FOLDER --json` into PostgreSQL, the whole process: Python and Django starting, the run, exiting "
        f"({fixed_s:.2f} s on a dump with no rows); \"run only\" is the ImportRun's started → finished.",
    ]
    for r in results:
        lines.append(
            f"- {r['mb']:.0f} MB, (c) the parser alone (no database): {rate(r['rows'], r['parser_s'])}, "
            f"ratio {r['bare_s'] / r['parser_s']:.2f}; of (b)'s run, parsing {r['parser_s']:.1f} s, "
            f"the rest {max(r['run_s'] - r['parser_s'], 0):.1f} s."
        )
    lines.append(
        f"- Targets: b/a >= {RATIO_TARGET} on files >= {RATIO_FILE_MB} MB: "
        f"{'met' if lowest >= RATIO_TARGET else 'NOT met'} ({lowest:.2f}); peak RSS < {RSS_TARGET_MB} MB: "
        f"{'met' if highest_rss < RSS_TARGET_MB else 'NOT met'} ({highest_rss:.0f} MB)"
        + (f", flat: {results[-1]['peak_mb'] - results[0]['peak_mb']:+.0f} MB from {results[0]['mb']:.0f} MB to "
           f"{results[-1]['mb']:.0f} MB of file." if len(results) > 1 else ".")
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, nargs="+", default=[50, 200], help="file sizes in MB (10^6 bytes)")
    parser.add_argument("--folder", type=Path, default=REPO / "var" / "bench" / "ingest")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each pass; the best time counts")
    parser.add_argument("--baseline-code", type=Path, help="a checkout whose import is timed too (before/after)")
    args = parser.parse_args(argv)
    env = dict(os.environ, DATABASE_URL=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, PYTHONUNBUFFERED="1")
    if not env["DATABASE_URL"].startswith("postgres"):
        raise SystemExit("bench/ingest.py measures the import into PostgreSQL: set DATABASE_URL=postgres://...")
    if args.baseline_code and not (args.baseline_code / "manage.py").exists():
        raise SystemExit(f"--baseline-code {args.baseline_code}: no manage.py there")
    ensure_database(env)
    fixed_s = fixed_cost(args.folder, env, args.repeat)
    print(f"(d) the command on a dump with no rows: {fixed_s:.2f} s", flush=True)
    results = []
    for megabytes in args.mb:
        print(f"{megabytes:g} MB:", flush=True)
        results.append(measure(megabytes, env, args.folder, args.repeat, args.baseline_code))
    print()
    print(summary_table(results, fixed_s, args.repeat, args.baseline_code))
    return 0


if __name__ == "__main__":
    sys.exit(main())
