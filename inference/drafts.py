"""Model drafts: a checkpoint answers prompt-only examples, and each answer becomes the example's next revision
(note "draft by <model>", metadata `draft`), for annotators to edit — the history shows that the first text came
from a model, and which one. The work runs on the gpu queue through the inference engine, like a generation run.

An example that changed after it was asked about (edited, answered, deleted) is left alone and reported: a draft
never overwrites a person's work.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from core.jobs.context import JobFailed
from core.jobs.engine import run_engine
from core.jobs.kinds import job_kind
from core.jobs.runner import enqueue, execute
from curation.models import Example
from curation.services import StaleEdit, edit_example
from inference.engine.decoding import DecodingSettings
from inference.engine.jsonl import write_jsonl_atomically
from inference.models import DraftRun
from inference.runner import engine_command
from inference.services import GenerationError, media_folder

MAX_DRAFTS = 2000  # examples a run may draft at once


def prompt_only(examples=None):
    """Examples that are a lone prompt (curation.services allows no other conversation without an answer)."""
    examples = Example.objects.all() if examples is None else examples
    return examples.annotate(turn_count=Count("turns")).filter(turn_count=1)


def start_drafts(examples, *, checkpoint=None, model_path="", name="", decoding=DecodingSettings(), seed=0,
                 batch_size=8, user=None, run_async=True) -> DraftRun:
    """Queue drafts for the prompt-only ones of `examples`; GenerationError (nothing created) when none is."""
    if checkpoint is not None:
        model_path = model_path or checkpoint.path
    if not model_path or not Path(model_path).is_dir():
        raise GenerationError(f"{model_path or '(none)'}: choose a checkpoint or a model folder.")
    chosen = list(prompt_only(examples).order_by("pk").values_list("pk", "version")[:MAX_DRAFTS + 1])
    if not chosen:
        raise GenerationError("None of these examples is prompt-only: there is nothing to draft.")
    if len(chosen) > MAX_DRAFTS:
        raise GenerationError(f"At most {MAX_DRAFTS:,} examples a run: narrow the selection.")
    if not name:
        name = f"{checkpoint.run.title} · epoch {checkpoint.epoch}" if checkpoint is not None else Path(model_path).name
    run = DraftRun.objects.create(
        name=name[:200], checkpoint=checkpoint, model_path=str(model_path), examples=[list(row) for row in chosen],
        decoding=decoding.as_dict(), seed=seed, batch_size=batch_size, total=len(chosen),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    return enqueue(run) if run_async else execute(run._meta.label_lower, run.pk)


@job_kind(DraftRun, queue="gpu", expected_errors=(GenerationError,))
def run_drafts(run, context):
    versions = {int(pk): version for pk, version in run.examples}
    examples = {e.pk: e for e in Example.objects.filter(pk__in=versions).prefetch_related("turns")}
    folder = media_folder("drafts", run.pk)
    prompts_path, out_path = folder / "prompts.jsonl", folder / "responses.jsonl"
    out_path.unlink(missing_ok=True)
    write_jsonl_atomically(prompts_path, (
        {"id": str(pk), "conversations": [turn.text for turn in examples[pk].turns.all()]}
        for pk in versions if pk in examples
    ))
    context.progress(0, phase="drafting")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    outcome = run_engine(engine_command(run, prompts_path, out_path), context, env=env, cwd=settings.BASE_DIR,
                         on_event=lambda e: context.progress(int(e.get("done", 0))) if e.get("event") == "progress" else None)
    context.check()
    if outcome.returncode != 0:
        raise JobFailed(outcome.failure())
    answers = {}
    with open(out_path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                answers[int(row["id"])] = row["response"]
    written, skipped = [], {}
    with transaction.atomic():
        for pk, version in versions.items():
            reason = _write_draft(run, pk, version, answers.get(pk))
            if reason:
                skipped[str(pk)] = reason
            else:
                written.append(pk)
        context.succeed(done=len(versions), phase="", written=written, skipped=skipped)


def _write_draft(run, pk, version, answer):
    """Append the model's answer to example `pk` as it was when asked; the reason it was not, otherwise."""
    example = Example.objects.filter(pk=pk).first()
    if example is None:
        return "deleted since"
    if answer is None or not answer.strip():
        return "the model gave no answer"
    turns = list(example.turns.values_list("text", flat=True))
    if len(turns) != 1:
        return "answered since"
    draft = {"model": run.name, "model_path": run.model_path, "draft_run": run.pk,
             "checkpoint": run.checkpoint_id}
    try:
        edit_example(example, expected_version=version, author=None, turns=[*turns, answer.strip()],
                     metadata={**(example.metadata or {}), "draft": draft}, note=f"draft by {run.name}"[:200])
    except StaleEdit:
        return "edited since"
    return ""
