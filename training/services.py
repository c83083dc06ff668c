"""Named verbs on training runs. The web form, the API and `manage.py train` all call these.

Status changes live here and in the runner (training/runner.py), always as conditional updates
(`filter(status=...).update(...)`), so a request, a worker and the reaper never overwrite each other.
"""
import logging
import re
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.processes import host_name, signal_group
from curation.models import DatasetVersion
from training.conf import setting
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


def output_dir_for(run):
    """MEDIA_ROOT/training/<run id>/, or <run id>-2, -3 … when a folder of that name was left by another
    database (a reset development database counts its runs from 1 again)."""
    root = Path(settings.MEDIA_ROOT) / "training"
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
    from training.tasks import run_training

    task_id = str(uuid.uuid4())
    TrainingRun.objects.filter(pk=run.pk).update(celery_task_id=task_id)
    run.celery_task_id = task_id
    transaction.on_commit(lambda: run_training.apply_async(args=[run.pk], queue="gpu", task_id=task_id))


# --- Cancel, resume, choose -------------------------------------------------------------------------------

def cancel_training_run(run, user=None):
    """Stop a run. Queued: cancelled at once. Running: flagged, and its process group killed here when the
    engine runs on this host; the runner sees the flag (or the dead engine) within a second and records
    "cancelled". Checkpoints already written stay."""
    now = timezone.now()
    by = user if user is not None and user.is_authenticated else None
    if TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.CANCELLED, cancel_requested=True, cancel_requested_by=by, finished_at=now,
    ):
        run.refresh_from_db()
        return run
    if not TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
        cancel_requested=True, cancel_requested_by=by,
    ):
        run.refresh_from_db()
        raise TrainingError(f"Run #{run.pk} is {run.status}: there is nothing to cancel.")
    run.refresh_from_db()
    if run.pgid and run.worker_host == host_name():
        import signal

        # The runner is busy reading the engine; killing the group from here makes the cancel immediate.
        signal_group(run.pgid, signal.SIGTERM)
    return run


def resume_training_run(run, user=None):
    """Queue a failed or cancelled run again; the engine continues from the run's last checkpoint
    (with optimizer and scheduler state), or starts over when none was written."""
    updated = TrainingRun.objects.filter(
        pk=run.pk, status__in=[TrainingRun.Status.FAILED, TrainingRun.Status.CANCELLED],
    ).update(
        status=TrainingRun.Status.QUEUED, resume_requested=True, cancel_requested=False, cancel_requested_by=None,
        error="", finished_at=None, pid=None, pgid=None,
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


# --- The reaper --------------------------------------------------------------------------------------------

def reap_dead_runs(*, limit=None, worker_name=None, now=None):
    """Mark failed every running run whose runner stopped beating (heartbeat older than `limit` seconds),
    and, given `worker_name` (a worker that just started), every run that worker was running: it cannot be
    running any more. Kills the engine's process group when it is on this host. Returns the runs reaped."""
    now = now or timezone.now()
    limit = setting("TRAINING_HEARTBEAT_TIMEOUT") if limit is None else limit
    cutoff = now - timedelta(seconds=limit)
    running = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING)
    stale = list(running.filter(heartbeat_at__lt=cutoff)) + list(running.filter(heartbeat_at__isnull=True, started_at__lt=cutoff))
    if worker_name:
        stale += list(running.filter(worker_name=worker_name).exclude(pk__in=[run.pk for run in stale]))
    reaped = []
    for run in stale:
        restarted = bool(worker_name) and run.worker_name == worker_name
        cause = (
            f"The worker {run.worker_name or run.worker_host} restarted while running this run: it had died."
            if restarted else
            f"No heartbeat from the worker {run.worker_name or run.worker_host or '(unknown)'} since "
            f"{run.heartbeat_at or run.started_at:%Y-%m-%d %H:%M:%S} UTC (limit {limit:g} s): it died or lost "
            "the database."
        )
        cancelled = run.cancel_requested
        guard = {"heartbeat_at": run.heartbeat_at} if not restarted else {}
        updated = TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING, attempt=run.attempt, **guard).update(
            status=TrainingRun.Status.CANCELLED if cancelled else TrainingRun.Status.FAILED,
            error="" if cancelled else cause + " Resume it to continue from its last checkpoint.",
            finished_at=now, pid=None, pgid=None,
        )
        if not updated:
            continue  # it beat (or finished) in the meantime
        if run.pgid and run.worker_host == host_name():
            import signal

            signal_group(run.pgid, signal.SIGKILL)  # an orphaned engine must not keep training
        logger.warning("training run %s reaped: %s", run.pk, cause)
        reaped.append(run)
    return reaped


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
