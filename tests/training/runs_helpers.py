"""Helpers of the training-run tests: a frozen dataset version built directly from models and services, the
recipe overrides that make the tiny model learn in a few steps, and waiting for a run's row to change."""
import time

from curation.models import DatasetItem, DatasetVersion, Example
from curation.services import create_example, get_or_create_source
from training.models import TrainingRun

# Not LIMA's numbers: a randomly initialised tiny model must move visibly in a handful of steps.
FAST_RECIPE = {"epochs": 2, "batch_size": 8, "micro_batch_size": 8, "learning_rate": 3e-3,
               "final_learning_rate": 3e-4, "save_from_epoch": 1, "max_length": 256}


def frozen_version(chats, *, name="tests v1", held_out=()):
    """A ready DatasetVersion pinning each example's latest revision: `chats` in train, `held_out` in dev."""
    source = get_or_create_source("manual", "Training tests")
    version = DatasetVersion.objects.create(name=name, status=DatasetVersion.Status.READY)
    rows = [(turns, Example.Split.TRAIN) for turns in chats] + [(turns, Example.Split.DEV) for turns in held_out]
    for turns, split in rows:
        example = create_example(turns=turns, source=source, split=split, status=Example.Status.APPROVED)
        DatasetItem.objects.create(version=version, example=example, revision=example.revisions.get(), split=split)
    version.example_count = len(rows)
    version.save(update_fields=["example_count"])
    return version


def wait_for(run, condition, timeout=180, what="the run"):
    """Poll the run's row until condition(run) holds; fail with the row's state after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        run = TrainingRun.objects.get(pk=run.pk)
        if condition(run):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what} did not happen within {timeout} s: status={run.status} step={run.step} "
                f"error={run.error!r}\n{run.log_tail}"
            )
        time.sleep(0.2)
