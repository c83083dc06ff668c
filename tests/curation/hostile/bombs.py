"""Hostile files built on the fly: zstd bombs, a gigabyte line, JSON nested a hundred thousand deep; and a child
process that reads one with a parser and reports its peak memory (the parsers run in the worker; a bomb must
not take it down)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parents[3]
MB = 2**20
# What a reader may use at most on any of these files (Python, lxml and numpy loaded come to ~60 MB).
RSS_BOUND_MB = 300


def zstd_of_repeated(path: Path, piece: bytes, size: int, prefix: bytes = b"", suffix: bytes = b"") -> Path:
    """A zstd file expanding to `prefix` + `piece` repeated to `size` bytes + `suffix`, written in 1 MB steps."""
    chunk = piece * (MB // len(piece))
    with open(path, "wb") as out, zstandard.ZstdCompressor(level=3).stream_writer(out) as writer:
        writer.write(prefix)
        for _ in range(size // len(chunk)):
            writer.write(chunk)
        writer.write(suffix)
    return path


def newline_bomb(path: Path, size: int = 2 * 1024 * MB) -> Path:
    """The issue's 65 KB .zst of newlines (2 GiB of them)."""
    return zstd_of_repeated(path, b"\n", size)


def long_line_bomb(path: Path, size: int = 1024 * MB) -> Path:
    """The issue's 32 KB .zst holding one 1 GB JSONL line."""
    return zstd_of_repeated(path, b"x", size, prefix=b'{"id": "a", "selftext": "', suffix=b'"}\n')


def deep_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


def read_in_child(parser: str, path: Path, env: dict | None = None, **options) -> dict:
    """Run `curation.sources.<parser>.iter_records(path, **options)` to the end in a fresh Python process:
    {"records": n, "error": message or None, "error_type": ..., "max_rss_mb": peak resident memory}."""
    script = f"""
import json, sys
from curation.sources.{parser} import iter_records
count, error, kind = 0, None, None
try:
    for _ in iter_records(sys.argv[1], **json.loads(sys.argv[2])):
        count += 1
except Exception as exc:
    error, kind = str(exc), type(exc).__name__
# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent at fork and exec.
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"records": count, "error": error, "error_type": kind, "max_rss_mb": peak / 1024}}))
"""
    child_env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    child_env.update(env or {})
    done = subprocess.run([sys.executable, "-c", script, str(path), json.dumps(options)], cwd=REPO,
                          env=child_env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
