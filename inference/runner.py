"""Runs a GenerationRun on a gpu worker: `python -m inference.engine` in a subprocess (core.jobs.engine).

The engine runs in its own process group, dies with its worker, and speaks JSON lines; a crash, an
out-of-memory kill or a cancel never takes the worker down. Progress flows one way: the engine's events ->
the job's heartbeat -> the run's row, which the pages poll. The responses are stored in one transaction with
the run's success: a run never ends with half of them.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from django.conf import settings as django_settings
from django.db import transaction

from core.jobs.context import JobFailed
from core.jobs.engine import run_engine
from core.jobs.kinds import job_kind
from inference.engine.jsonl import write_jsonl_atomically
from inference.models import Generation, GenerationRun
from inference.services import GenerationError, media_folder, prompts_for_run


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


def generation_queue(run) -> str:
    """An endpoint's run needs no GPU here (and must not wait behind a model server holding the gpu worker)."""
    return "default" if run.endpoint_id else "gpu"


@job_kind(GenerationRun, queue=generation_queue, expected_errors=(GenerationError,))
def run_generation(run, context):
    if run.endpoint_id or run.endpoint_model:
        from inference.endpoints.generation import generate_through_endpoint

        return generate_through_endpoint(run, context)
    prompts = prompts_for_run(run)
    folder = media_folder("runs", run.pk)
    prompts_path, out_path = folder / "prompts.jsonl", folder / "responses.jsonl"
    out_path.unlink(missing_ok=True)
    write_jsonl_atomically(prompts_path, ({"id": p.key, "conversations": p.turns} for p in prompts))
    context.progress(0, total=len(prompts), phase="generating")

    def on_event(event):
        if event.get("event") == "progress":
            fields = {"partial": float(event.get("partial", 0.0))}
            if "tokens" in event:
                fields["completion_tokens"] = int(event["tokens"])
            context.progress(int(event.get("done", 0)), **fields)

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    outcome = run_engine(engine_command(run, prompts_path, out_path), context, on_event=on_event,
                         env=env, cwd=django_settings.BASE_DIR)
    context.check()  # cancelled or lost: the engine was stopped
    if outcome.returncode != 0:
        raise JobFailed(outcome.failure())
    context.progress(phase="storing")
    with transaction.atomic():
        tokens = _store_generations(run, prompts, out_path)
        context.succeed(done=len(prompts), phase="", partial=0.0, **tokens)


def _store_generations(run: GenerationRun, prompts, out_path: Path) -> dict:
    """The engine's responses as Generation rows, in the caller's transaction; returns the run's token counts."""
    by_key = {}
    with open(out_path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                by_key[str(row["id"])] = row
    missing = [p.key for p in prompts if p.key not in by_key]
    if missing:
        raise ValueError(f"{out_path}: no response for prompt(s) {', '.join(missing[:5])}")
    Generation.objects.filter(run=run).delete()
    Generation.objects.bulk_create(
        Generation(
            run=run, position=position, prompt_key=p.key, prompt=p.turns,
            response=by_key[p.key]["response"], model_name=by_key[p.key].get("model") or run.name,
            dataset_item_id=p.dataset_item_id, finish_reason=by_key[p.key].get("finish_reason") or "",
            prompt_tokens=by_key[p.key].get("prompt_tokens"), completion_tokens=by_key[p.key].get("completion_tokens"),
        )
        for position, p in enumerate(prompts, 1)
    )
    return {"prompt_tokens": sum(by_key[p.key].get("prompt_tokens") or 0 for p in prompts),
            "completion_tokens": sum(by_key[p.key].get("completion_tokens") or 0 for p in prompts)}
