"""Verbs of generation: start, cancel and import generation runs; mark the chosen checkpoint.

Views, the API and management commands call these; the GPU work itself runs in inference.runner,
on the worker.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.jobs.runner import JobStateError, cancel, enqueue, execute
from inference.engine.decoding import DecodingSettings
from inference.engine.jsonl import read_prompts
from inference.models import Generation, GenerationRun
from training.engine.jsonl_rows import iter_json_objects

PROMPT_SPLITS = ("dev", "test")  # LIMA: checkpoints chosen on dev (50 prompts), reported on test (300)
# The decoding settings the engine's command line takes (min_new_tokens is the benchmark's only).
SETTING_FIELDS = ("top_p", "temperature", "repetition_penalty", "max_new_tokens", "do_sample")


class GenerationError(ValueError):
    """A generation run cannot be started or imported as asked; nothing was created."""


@dataclass(frozen=True)
class PromptRow:
    key: str  # matches the same prompt across runs
    turns: list[str]  # ending with the user's turn
    dataset_item_id: int | None = None


def media_folder(*parts) -> Path:
    folder = Path(settings.MEDIA_ROOT, "inference", *map(str, parts))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_upload(upload) -> Path:
    """Keep an uploaded JSONL under MEDIA_ROOT/inference/uploads/<random>/ with its own name (errors name it)."""
    name = Path(upload.name).name or "upload.jsonl"
    path = media_folder("uploads", uuid.uuid4().hex[:12]) / name
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


def decoding_settings(values: dict | None = None) -> DecodingSettings:
    """LIMA's defaults overridden by `values`; raises GenerationError for a value the engine refuses."""
    values = {k: v for k, v in (values or {}).items() if v is not None}
    unknown = set(values) - set(SETTING_FIELDS)
    if unknown:
        raise GenerationError(f"Unknown decoding setting(s): {', '.join(sorted(unknown))}.")
    try:
        return DecodingSettings(**values)
    except (TypeError, ValueError) as error:
        raise GenerationError(str(error)) from None


def version_prompts(version, split) -> list[PromptRow]:
    """A frozen version's prompts of one split, from the pinned revisions; a training row's last
    assistant turn is dropped so the model answers the user turn before it."""
    from curation.datasets.exports import iter_version_conversations

    rows = []
    for item, turns, _kind in iter_version_conversations(version, split):
        turns = list(turns)
        if len(turns) % 2 == 0:
            turns = turns[:-1]
        if turns:
            rows.append(PromptRow(str(item.example_id), turns, item.pk))
    return rows


def file_prompts(path) -> list[PromptRow]:
    try:
        prompts = read_prompts(path)
    except (OSError, ValueError) as error:
        raise GenerationError(str(error)) from None
    return [PromptRow(str(p.id), list(p.turns)) for p in prompts]


def prompts_for_run(run: GenerationRun) -> list[PromptRow]:
    if run.dataset_version_id:
        return version_prompts(run.dataset_version, run.split)
    return file_prompts(run.prompts_file)


def create_generation_run(
    *, name: str = "", checkpoint=None, model_path: str = "", dataset_version=None, split: str = "",
    prompts_file: str | Path = "", decoding: DecodingSettings = DecodingSettings(), seed: int = 0,
    batch_size: int = 16, user=None, run_async: bool = True, endpoint=None,
) -> GenerationRun:
    """A queued GenerationRun of a checkpoint (or a model folder, or a model endpoint) over a version's split or
    a prompt file.

    The run is handed to the `gpu` queue (an endpoint's: the `default` queue) once the transaction commits (or
    executed here when not run_async). Raises GenerationError, with nothing created, for a missing model or
    empty prompt set.
    """
    if endpoint is not None:
        if checkpoint is not None or model_path:
            raise GenerationError("Choose a checkpoint, a model folder or an endpoint (one of them).")
    else:
        if checkpoint is not None:
            model_path = model_path or checkpoint.path
        if not model_path:
            raise GenerationError("Choose a checkpoint, a model folder or a model endpoint.")
        if not Path(model_path).is_dir():
            raise GenerationError(f"{model_path}: no such model folder.")
    if bool(dataset_version) == bool(prompts_file):
        raise GenerationError("Choose a dataset version's split or a prompt file (one of the two).")
    if batch_size < 1:
        raise GenerationError("The batch size must be at least 1.")
    if dataset_version is not None:
        if split not in PROMPT_SPLITS:
            raise GenerationError(f"Prompts come from the dev or the test split, not {split!r}.")
        count = dataset_version.items.filter(split=split).count()
        if not count:
            raise GenerationError(f"{dataset_version} has no {split} example.")
    else:
        count = len(file_prompts(prompts_file))
    run = GenerationRun.objects.create(
        name=(name or (endpoint.name if endpoint is not None else _default_name(checkpoint, model_path)))[:200],
        kind=GenerationRun.Kind.MODEL, endpoint=endpoint, endpoint_model=endpoint.model if endpoint else "",
        checkpoint=checkpoint if checkpoint is not None else getattr(endpoint, "checkpoint", None),
        model_path=str(model_path or ""), dataset_version=dataset_version,
        split=split if dataset_version is not None else "", prompts_file=str(prompts_file or ""),
        decoding=decoding.as_dict(), seed=seed, batch_size=batch_size, total=count,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    if run_async:
        return enqueue(run)
    return execute(run._meta.label_lower, run.pk)


def _default_name(checkpoint, model_path) -> str:
    if checkpoint is not None:
        return f"{checkpoint.run.title} · epoch {checkpoint.epoch}"
    return Path(model_path).name


def cancel_generation_run(run: GenerationRun) -> GenerationRun:
    """A queued run is cancelled at once; a running one is asked to stop (its worker ends the engine within a
    heartbeat). Raises GenerationError for a run that has ended."""
    try:
        return cancel(run)
    except JobStateError as error:
        raise GenerationError(str(error)) from None


def resume_generation_run(run: GenerationRun) -> GenerationRun:
    """Queue a failed or cancelled run again. An endpoint's run keeps the answers it received and asks only for the
    missing ones; a local run generates its prompts again."""
    if run.kind != GenerationRun.Kind.MODEL:
        raise GenerationError(f"Generation #{run.pk} holds imported responses: there is nothing to run.")
    started = GenerationRun.objects.filter(
        pk=run.pk, status__in=(GenerationRun.Status.FAILED, GenerationRun.Status.CANCELLED),
    ).update(status=GenerationRun.Status.QUEUED, cancel_requested=False, error="", finished_at=None, phase="")
    run.refresh_from_db()
    if not started:
        raise GenerationError(f"Generation #{run.pk} is {run.status}: only a failed or cancelled run starts again.")
    return enqueue(run)


# --- External responses: a baseline "model" ------------------------------------------------------------


def read_external_responses(path) -> list[dict]:
    """Rows of {"id" (or "prompt_id"), "response", "model"?, "prompt"? or "conversations"?}, one a line,
    as written by `python -m inference.engine` or by any other model's script."""
    path = Path(path)
    rows, seen = [], {}
    for where, number, row in iter_json_objects(path, GenerationError, label=path.name):
        key = row.get("id", row.get("prompt_id"))
        if not isinstance(key, (str, int)) or isinstance(key, bool) or str(key) == "":
            raise GenerationError(f"{where}: 'id' (the prompt's id) must be a string or an integer")
        key = str(key)
        if key in seen:
            raise GenerationError(f"{where}: prompt id {key!r} already used on line {seen[key]}")
        seen[key] = number
        if not isinstance(row.get("response"), str):
            raise GenerationError(f"{where}: 'response' must be a string")
        turns = row.get("conversations")
        if turns is None and isinstance(row.get("prompt"), str):
            turns = [row["prompt"]]
        if turns is not None and (not isinstance(turns, list) or not all(isinstance(t, str) for t in turns)):
            raise GenerationError(f"{where}: 'conversations' must be a list of strings")
        if turns is not None and len(turns) % 2 == 0:
            turns = turns[:-1]
        model = row.get("model")
        if model is not None and not isinstance(model, str):
            raise GenerationError(f"{where}: 'model' must be a string")
        rows.append({"key": key, "turns": turns or None, "response": row["response"], "model": model,
                     "where": where})
    if not rows:
        raise GenerationError(f"{path.name}: no responses")
    return rows


@transaction.atomic
def import_responses(path, *, name: str = "", dataset_version=None, split: str = "", user=None) -> GenerationRun:
    """Import another model's responses as a finished GenerationRun of kind external.

    With a dataset version, ids are that version's example ids (as in its exports) and a row may
    leave out its prompt; without one, every row must carry its prompt. All or nothing.
    """
    rows = read_external_responses(path)
    models = {row["model"] for row in rows if row["model"]}
    if not name:
        if len(models) != 1:
            raise GenerationError(
                f"{Path(path).name}: name the model (the file's rows name {len(models) or 'no'} models)."
            )
        name = models.pop()
    known = {}
    if dataset_version is not None:
        if split and split not in PROMPT_SPLITS:
            raise GenerationError(f"Prompts come from the dev or the test split, not {split!r}.")
        known = {row.key: row for row in version_prompts(dataset_version, split or None)}
    generations = []
    for position, row in enumerate(rows, 1):
        prompt = known.get(row["key"])
        if dataset_version is not None and prompt is None:
            raise GenerationError(f"{row['where']}: prompt id {row['key']!r} is not an example of {dataset_version}"
                                  + (f" ({split} split)" if split else ""))
        turns = row["turns"] or (prompt.turns if prompt else None)
        if not turns:
            raise GenerationError(f"{row['where']}: no prompt: give 'prompt' or 'conversations', or a dataset version")
        generations.append(Generation(
            position=position, prompt_key=row["key"], prompt=turns, response=row["response"],
            model_name=name[:200], dataset_item_id=prompt.dataset_item_id if prompt else None,
        ))
    now = timezone.now()
    run = GenerationRun.objects.create(
        name=name[:200], kind=GenerationRun.Kind.EXTERNAL, dataset_version=dataset_version, split=split,
        prompts_file=str(path), status=GenerationRun.Status.SUCCEEDED, total=len(generations),
        done=len(generations), created_by=user if user is not None and user.is_authenticated else None,
        started_at=now, finished_at=now,
    )
    for generation in generations:
        generation.run = run
    Generation.objects.bulk_create(generations)
    return run


# --- Checkpoint selection -------------------------------------------------------------------------------


def start_checkpoint_selection(
    training_run, *, split: str = "dev", decoding: DecodingSettings = DecodingSettings(), seed: int = 0,
    batch_size: int = 16, epochs: tuple[int, int] | None = None, user=None, run_async: bool = True,
) -> list[GenerationRun]:
    """One generation run per checkpoint of a training run, over its dataset version's dev split, with
    the same settings and seed; people then compare them (LIMA.md: chosen by people on the 50-example
    dev set among epochs 5–10, since perplexity does not track generation quality)."""
    checkpoints = training_run.checkpoints.order_by("epoch")
    if epochs is not None:
        checkpoints = checkpoints.filter(epoch__gte=epochs[0], epoch__lte=epochs[1])
    checkpoints = list(checkpoints)
    if not checkpoints:
        raise GenerationError(f"Training run #{training_run.pk} has no checkpoint to compare.")

    def start(checkpoint):
        return create_generation_run(
            name=f"{training_run.title} · epoch {checkpoint.epoch}", checkpoint=checkpoint,
            dataset_version=training_run.dataset_version, split=split, decoding=decoding, seed=seed,
            batch_size=batch_size, user=user, run_async=run_async,
        )

    if not run_async:
        return [start(checkpoint) for checkpoint in checkpoints]
    with transaction.atomic():  # all runs or none
        return [start(checkpoint) for checkpoint in checkpoints]


def choose_checkpoint(checkpoint, user=None):
    """Mark `checkpoint` as its training run's chosen one (training's own verb does the writing)."""
    from training.services import choose_checkpoint as choose

    return choose(checkpoint.run, checkpoint, user=user)
