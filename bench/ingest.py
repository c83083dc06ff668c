"""Stack Exchange import speed and memory, against a bare lxml pass over the same file, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lima_bench .venv/bin/python bench/ingest.py [--mb 50 200]

For each size, a synthetic Posts.xml is written by bench/ingest_data.py (realistic HTML bodies; scores,
lengths and answers per question drawn from the real dumps, so most answers fail LIMA's score rule), then:

  (a) a bare `lxml.etree.iterparse` pass that only reads every row (and clears it), in this process;
  (b) the full import, `manage.py import_source stackexchange FOLDER --json`, into PostgreSQL, in a child
      process whose peak RSS is read from os.wait4's rusage.

For the record, (c) times the Stack Exchange parser alone (curation.sources.stackexchange.iter_records, no
database) in a child process, to show how (b)'s time splits between parsing and the database side.

Printed: rows/s of each, the ratio b/a (on the child's wall clock, Django's start included, and on the
ImportRun's own duration), and (b)'s peak RSS per size. Each pass runs `--repeat` times (default 3) and the
best time counts, the usual way to measure on a shared machine; the load average is printed beside. Targets (issue 3): ratio >= 0.35; peak RSS < 400 MB
and not growing with the file's size. The files are kept under var/bench/ingest/ and reused when present.
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


def run_child(args, env):
    """Run a child process to the end; return (exit code, stdout, stderr, seconds, peak RSS in MB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=err)
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


def import_duration(env, run_id):
    """The ImportRun's own started_at -> finished_at, read in a child so this process stays Django-free."""
    code = (f"from curation.models import ImportRun; r = ImportRun.objects.get(pk={run_id}); "
            "print(r.duration.total_seconds())")
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def measure(megabytes, env, folder, repeat):
    site_folder = folder / f"bench{megabytes:g}mb.stackexchange.com"
    site_folder.mkdir(parents=True, exist_ok=True)
    posts = site_folder / "Posts.xml"
    if not posts.exists() or posts.stat().st_size < megabytes * 1_000_000:
        started = time.perf_counter()
        counts = write_posts_xml(posts, megabytes, seed=0)
        print(f"  wrote {posts} ({counts['bytes'] / 1e6:.0f} MB, {counts['rows']:,} rows, "
              f"{counts['questions']:,} questions) in {time.perf_counter() - started:.0f} s", flush=True)
    bare_pass(posts)  # warm the page cache, so both passes read from memory
    bare = [bare_pass(posts) for _ in range(repeat)]
    rows = bare[0][0]
    imports = []
    for attempt in range(repeat):
        # A fresh source each time: the import creates its examples rather than finding them unchanged.
        name = f"bench{megabytes:g}mb-{int(time.time())}-{attempt}.stackexchange.com"
        code, out, err, seconds, peak_mb = run_child(
            [sys.executable, "manage.py", "import_source", "stackexchange", str(site_folder), "--name", name, "--json"],
            env,
        )
        if code:
            raise SystemExit(f"the import failed ({code}):\n{out}\n{err}")
        summary = json.loads(out.strip().splitlines()[-1])
        imports.append((seconds, import_duration(env, summary["import_run"]), peak_mb, summary))
        print(f"  (a) {bare[attempt][1]:.2f} s, (b) {seconds:.2f} s (run {imports[-1][1]:.2f} s), "
              f"peak RSS {peak_mb:.0f} MB, load {os.getloadavg()[0]:.1f}", flush=True)
    parser_seconds = min(parser_only(site_folder, env) for _ in range(repeat))
    return {
        "mb": posts.stat().st_size / 1e6, "rows": rows, "bare_s": min(s for _, s in bare), "parser_s": parser_seconds,
        "import_s": min(i[0] for i in imports), "run_s": min(i[1] for i in imports),
        "peak_mb": max(i[2] for i in imports), "summary": imports[-1][3],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, nargs="+", default=[50, 200], help="file sizes in MB (10^6 bytes)")
    parser.add_argument("--folder", type=Path, default=REPO / "var" / "bench" / "ingest")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each pass; the best time counts")
    args = parser.parse_args(argv)
    env = dict(os.environ, DATABASE_URL=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, PYTHONUNBUFFERED="1")
    if not env["DATABASE_URL"].startswith("postgres"):
        raise SystemExit("bench/ingest.py measures the import into PostgreSQL: set DATABASE_URL=postgres://...")
    ensure_database(env)
    results = []
    for megabytes in args.mb:
        print(f"{megabytes:g} MB:", flush=True)
        result = measure(megabytes, env, args.folder, args.repeat)
        results.append(result)
        s = result["summary"]
        print(f"  import: read {s['read']:,} questions, accepted {s['accepted']:,}, created {s['created']:,}, "
              f"rejected {sum(s['rejected'].values()):,} {s['rejected']}", flush=True)

    print()
    print(f"{'file':>8} {'rows':>10} {'(a) bare rows/s':>16} {'(b) import rows/s':>18} {'ratio b/a':>10} "
          f"{'(b) run only':>13} {'ratio':>6} {'(b) peak RSS':>13}")
    for r in results:
        bare, full, run_only = r["rows"] / r["bare_s"], r["rows"] / r["import_s"], r["rows"] / r["run_s"]
        print(f"{r['mb']:>6.0f}MB {r['rows']:>10,} {bare:>16,.0f} {full:>18,.0f} {full / bare:>10.2f} "
              f"{run_only:>13,.0f} {run_only / bare:>6.2f} {r['peak_mb']:>10.0f} MB")
    for r in results:
        print(f"{r['mb']:>6.0f}MB: (c) parser alone {r['rows'] / r['parser_s']:,.0f} rows/s (ratio {r['bare_s'] / r['parser_s']:.2f});"
              f" of (b)'s run, parsing {r['parser_s']:.1f} s, the rest {max(r['run_s'] - r['parser_s'], 0):.1f} s")
    print("  (b) is the whole `manage.py import_source` process (Django's start included); 'run only' is the")
    print(f"  ImportRun's started_at -> finished_at. Best of {args.repeat}; both read a file already in the page cache.")
    # The issue sets the ratio on a file of >= 200 MB; on smaller files the fixed costs (Python and Django
    # starting, saving the 200-400 sampled examples) weigh more, and the table shows them too.
    judged = [r for r in results if r["mb"] >= RATIO_FILE_MB] or results[-1:]
    ratios = [r["bare_s"] / r["import_s"] for r in judged]
    peaks = [r["peak_mb"] for r in results]
    print(f"target ratio >= {RATIO_TARGET} (whole process, files >= {RATIO_FILE_MB} MB): "
          f"{'met' if min(ratios) >= RATIO_TARGET else 'NOT met'} (lowest {min(ratios):.2f})")
    print(f"target peak RSS < {RSS_TARGET_MB} MB: {'met' if max(peaks) < RSS_TARGET_MB else 'NOT met'} "
          f"(highest {max(peaks):.0f} MB)")
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(f"RSS from {small['mb']:.0f} MB to {large['mb']:.0f} MB of file: {small['peak_mb']:.0f} -> "
              f"{large['peak_mb']:.0f} MB ({large['peak_mb'] - small['peak_mb']:+.0f} MB for "
              f"{large['mb'] / small['mb']:.1f}x the rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
