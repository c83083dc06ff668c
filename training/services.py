"""Named verbs on training runs. The web form, the API and `manage.py train` all call these.

The lifecycle (claim, heartbeat, cancel, the end, reaping) is core.jobs'; a run's work is training/runner.py.
"""
import logging
import re
from pathlib import Path

from django.conf import settings
from django.db import transaction

from core.jobs.runner import JobStateError, cancel, enqueue
from curation.models import DatasetVersion
from training.engine.recipe import RecipeError, from_overrides
from training.models import Checkpoint, TrainingRun

logger = logging.getLogger(__name__)

# A Hugging Face model id: "name" or "organisation/name".
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class TrainingError(ValueError):
    """A request the run cannot honour; `field` names the input at fault."""

    def __init__(self, message, field=None):
        self.field = field
        super().__init__(message)


# --- Starting -----------------------------------------------------------------------------------------

def check_overrides(overrides):
    """The overrides as the engine will read them (values coerced to their types); RecipeError names the key."""
    recipe = from_overrides(overrides or {})
    return {name: getattr(recipe, name) for name in (overrides or {})}


def resolve_base_model(base_model):
    """An existing local folder (made absolute) or a hub id; anything else is refused with the reason."""
    base_model = (base_model or "").strip()
    if not base_model:
        raise TrainingError("Give a base model: a local model folder or a Hugging Face id.", field="base_model")
    path = Path(base_model).expanduser()
    if not path.is_absolute():
        path = Path(settings.BASE_DIR) / path
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrainingError(f"{path} is a folder but holds no config.json: not a model folder.", field="base_model")
        return str(path.resolve())
    if base_model.startswith((".", "/", "~")) or not HUB_ID.match(base_model):
        raise TrainingError(f"{base_model}: no such model folder.", field="base_model")
    return base_model


def train_count(version):
    return version.items.filter(split="train").count()


def output_root():
    """TRAINING_OUTPUT_ROOT (shared storage when runs span several hosts), else MEDIA_ROOT/training."""
    return Path(settings.TRAINING_OUTPUT_ROOT or Path(settings.MEDIA_ROOT) / "training").expanduser()


def output_dir_for(run):
    """<output root>/<run id>/, or <run id>-2, -3 … when a folder of that name was left by another
    database (a reset development database counts its runs from 1 again)."""
    root = output_root()
    candidate, n = root / str(run.pk), 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = root / f"{run.pk}-{n}"
    return str(candidate.resolve())


def start_training_run(version, base_model, overrides=None, *, user=None, name="", enqueue=True):
    """Create a queued run of `version` (ready, with train examples) and send it to the gpu queue."""
    if not isinstance(version, DatasetVersion):
        version = DatasetVersion.objects.filter(pk=version).first()
        if version is None:
            raise TrainingError("No such dataset version.", field="dataset_version")
    if version.status != DatasetVersion.Status.READY:
        raise TrainingError(
            f"Dataset version #{version.pk} is {version.status}: only a ready (frozen) version can be trained on.",
            field="dataset_version",
        )
    examples = train_count(version)
    if not examples:
        raise TrainingError(f"Dataset version #{version.pk} has no train examples.", field="dataset_version")
    try:
        overrides = check_overrides(overrides)
    except RecipeError as error:
        raise TrainingError(str(error), field="recipe") from None
    base_model = resolve_base_model(base_model)
    with transaction.atomic():
        run = TrainingRun.objects.create(
            name=(name or "").strip()[:200], dataset_version=version, base_model=base_model, overrides=overrides,
            recipe=from_overrides(overrides).to_dict(), train_examples=examples,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        run.output_dir = output_dir_for(run)
        run.save(update_fields=["output_dir"])
        if enqueue:
            enqueue_training_run(run)
    return run


def enqueue_training_run(run):
    """Send the run to the `gpu` queue once the transaction that queued it commits."""
    return enqueue(run)


# --- Cancel, resume, choose -------------------------------------------------------------------------------

def cancel_training_run(run, user=None):
    """Stop a run. Queued: cancelled at once. Running: its worker stops the engine within a heartbeat and
    records "cancelled". Checkpoints already written stay."""
    try:
        return cancel(run, cancel_requested_by=user if user is not None and user.is_authenticated else None)
    except JobStateError as error:
        raise TrainingError(str(error)) from None


def resume_training_run(run, user=None):
    """Queue a failed or cancelled run again; the engine continues from the run's latest resume point (weights,
    optimizer and scheduler state, at an epoch's end or every save_every_steps steps), or starts over when none
    was written."""
    updated = TrainingRun.objects.filter(
        pk=run.pk, status__in=[TrainingRun.Status.FAILED, TrainingRun.Status.CANCELLED],
    ).update(
        status=TrainingRun.Status.QUEUED, resume_requested=True, cancel_requested=False, cancel_requested_by=None,
        error="", finished_at=None, pid=None, pgid=None, phase="",
    )
    run.refresh_from_db()
    if not updated:
        raise TrainingError(f"Run #{run.pk} is {run.status}: only a failed or cancelled run can be resumed.")
    enqueue_training_run(run)
    return run


def choose_checkpoint(run, checkpoint, user=None):
    """Mark the checkpoint people chose for generation and evaluation (LIMA: by hand, epochs 5–10)."""
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = Checkpoint.objects.filter(pk=checkpoint, run=run).first()
    if checkpoint is None or checkpoint.run_id != run.pk:
        raise TrainingError(f"That checkpoint is not one of run #{run.pk}'s.", field="checkpoint")
    TrainingRun.objects.filter(pk=run.pk).update(chosen_checkpoint=checkpoint)
    run.chosen_checkpoint = checkpoint
    return run


# --- Reading ------------------------------------------------------------------------------------------------

def runs_for_listing():
    return TrainingRun.objects.select_related("dataset_version", "created_by", "chosen_checkpoint")


def result_of(run):
    """What `manage.py train --wait --json` prints: the run, its status, checkpoint paths, loss per epoch."""
    return {
        "training_run": run.pk,
        "status": run.status,
        "checkpoints": [checkpoint.path for checkpoint in run.checkpoints.order_by("epoch")],
        "loss": run.epoch_losses,
        **({"error": run.error} if run.error else {}),
    }
