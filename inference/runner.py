"""Runs a GenerationRun on the worker: `python -m inference.engine` in a subprocess.

The engine runs in its own process (and process group) so that a crash, an out-of-memory kill or
a cancel never takes the worker down. Progress flows one way: the engine's JSON lines on stderr ->
`run_engine` -> the run's row, which the pages poll.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from inference.engine.jsonl import write_jsonl_atomically
from inference.models import Generation, GenerationRun
from inference.services import media_folder, prompts_for_run

POLL_SECONDS = 1.0
STOP_GRACE_SECONDS = 10


@dataclass
class EngineResult:
    returncode: int | None
    cancelled: bool
    error: str  # the engine's error event, else the tail of its stderr; empty on success


def engine_command(run: GenerationRun, prompts_path, out_path) -> list[str]:
    """The command line that hands the run's stored settings to the engine, one flag each."""
    s = run.decoding
    command = [
        sys.executable, "-m", "inference.engine",
        "--checkpoint", run.model_path, "--prompts", str(prompts_path), "--out", str(out_path),
        "--batch-size", str(run.batch_size), "--seed", str(run.seed), "--model-name", run.name,
        "--temperature", repr(float(s["temperature"])), "--top-p", repr(float(s["top_p"])),
        "--repetition-penalty", repr(float(s["repetition_penalty"])),
        "--max-new-tokens", str(int(s["max_new_tokens"])),
    ]
    if not s.get("do_sample", True):
        command.append("--greedy")
    return command


def run_engine(
    command: list[str],
    on_event: Callable[[dict], None],
    should_cancel: Callable[[], bool],
    cwd=None,
    env=None,
    poll_seconds: float = POLL_SECONDS,
) -> EngineResult:
    """Run the engine to its end (or until should_cancel() says so), passing each JSON event on."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", errors="replace", start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read_stderr():
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read_stderr, name="engine-stderr", daemon=True)
    reader.start()
    tail: deque[str] = deque(maxlen=20)
    error = ""
    last_check = 0.0
    while True:
        try:
            line = lines.get(timeout=poll_seconds)
        except queue.Empty:
            line = ""
        if line is None:
            break
        event = _event(line)
        if event is not None:
            if event.get("event") == "error":
                error = str(event.get("message", ""))
            on_event(event)
        elif line.strip():
            tail.append(line.rstrip())
        if time.monotonic() - last_check >= poll_seconds:
            last_check = time.monotonic()
            if should_cancel():
                _stop(process)
                reader.join(timeout=5)
                return EngineResult(process.returncode, True, "")
    returncode = process.wait()
    if returncode != 0 and not error:
        error = "\n".join(tail) or f"the engine exited with status {returncode}"
    return EngineResult(returncode, False, error)


def _event(line: str) -> dict | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "event" in event else None


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the engine's process group, then SIGKILL what is left after a grace period."""
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# --- The database edge --------------------------------------------------------------------------------


def execute_generation_run(run_pk: int) -> GenerationRun:
    """Claim a queued run, generate every response, store them; the run's status says how it ended."""
    Status = GenerationRun.Status
    now = timezone.now()
    claimed = GenerationRun.objects.filter(pk=run_pk, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, heartbeat_at=now
    )
    run = GenerationRun.objects.get(pk=run_pk)
    if claimed != 1:
        return run  # cancelled while queued, or another worker has it
    try:
        result = _generate(run)
    except Exception as error:  # a bad prompt set or an unreadable output: the run fails, the worker lives
        return _finish(run, Status.FAILED, f"{type(error).__name__}: {error}")
    return result


def _generate(run: GenerationRun) -> GenerationRun:
    Status = GenerationRun.Status
    prompts = prompts_for_run(run)
    folder = media_folder("runs", run.pk)
    prompts_path, out_path = folder / "prompts.jsonl", folder / "responses.jsonl"
    out_path.unlink(missing_ok=True)
    write_jsonl_atomically(prompts_path, ({"id": p.key, "conversations": p.turns} for p in prompts))
    GenerationRun.objects.filter(pk=run.pk).update(prompt_count=len(prompts), done_count=0)

    def on_event(event):
        if event.get("event") == "progress":
            GenerationRun.objects.filter(pk=run.pk).update(
                done_count=int(event.get("done", 0)), heartbeat_at=timezone.now()
            )

    def should_cancel():
        GenerationRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
        return GenerationRun.objects.filter(pk=run.pk, cancel_requested=True).exists()

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    result = run_engine(engine_command(run, prompts_path, out_path), on_event, should_cancel,
                        cwd=django_settings.BASE_DIR, env=env)
    if result.cancelled:
        return _finish(run, Status.CANCELLED, "")
    if result.returncode != 0:
        return _finish(run, Status.FAILED, result.error)
    _store_generations(run, prompts, out_path)
    return _finish(run, Status.SUCCEEDED, "")


def _store_generations(run: GenerationRun, prompts, out_path: Path) -> None:
    by_key = {}
    with open(out_path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                by_key[str(row["id"])] = row
    missing = [p.key for p in prompts if p.key not in by_key]
    if missing:
        raise ValueError(f"{out_path}: no response for prompt(s) {', '.join(missing[:5])}")
    with transaction.atomic():
        Generation.objects.filter(run=run).delete()
        Generation.objects.bulk_create(
            Generation(
                run=run, position=position, prompt_key=p.key, prompt=p.turns,
                response=by_key[p.key]["response"], model_name=by_key[p.key].get("model") or run.name,
                dataset_item_id=p.dataset_item_id,
            )
            for position, p in enumerate(prompts, 1)
        )
        GenerationRun.objects.filter(pk=run.pk).update(done_count=len(prompts))


def _finish(run: GenerationRun, status: str, error: str) -> GenerationRun:
    GenerationRun.objects.filter(pk=run.pk).update(status=status, error=error, finished_at=timezone.now())
    run.refresh_from_db()
    return run
