"""The kinds of long work, each declared where it lives: a model (a core.jobs.models.Job), the function that
does the work, the queue it runs on, and what to throw away when an attempt ends without success.

    @job_kind(ExportJob, queue="default", discard=remove_partial_file)
    def run_export(job, context): ...

That is all a new kind needs: claiming, heartbeats, cancelling, failing with a cause and reaping are the
runner's (core.jobs.runner) and the reaper's (core.jobs.reaper).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobKind:
    model: type
    run: Callable  # run(job, context): does the work; returns to succeed, raises to fail
    # "default" (imports, exports, freezing) or "gpu" (training, generation); or queue(job) -> str for a kind
    # whose queue depends on the job (a shard of embedding work goes to "gpu" only when GPU workers exist).
    queue: str | Callable = "default"
    discard: Callable | None = None  # discard(job): removes what a failed or cancelled attempt left
    # Errors whose message already says what is wrong, for a person (a malformed file, a refused option):
    # shown as they are. Any other exception is shown with its type, and logged with its traceback.
    expected_errors: tuple[type[BaseException], ...] = ()

    def discard_safely(self, job):
        """Remove what a failed or cancelled attempt of `job` left; a failure here is logged, never raised (the
        job's end is written all the same)."""
        if self.discard is not None:
            try:
                self.discard(job)
            except Exception:
                logger.exception("%s #%s: what it left could not all be removed", self.noun, job.pk)

    def queue_for(self, job) -> str:
        return self.queue(job) if callable(self.queue) else self.queue

    @property
    def label(self) -> str:
        return self.model._meta.label_lower  # "curation.importrun"

    @property
    def noun(self) -> str:
        return self.model.noun


KINDS: dict[str, JobKind] = {}


def job_kind(model, *, queue="default", discard=None, expected_errors=()):
    """Declare the decorated function as the work of `model`'s jobs."""

    def register(run):
        kind = JobKind(model, run, queue, discard, tuple(expected_errors))
        KINDS[kind.label] = kind
        return run

    return register


def kind_of(job_or_model) -> JobKind:
    model = job_or_model if isinstance(job_or_model, type) else type(job_or_model)
    try:
        return KINDS[model._meta.label_lower]
    except KeyError:
        raise LookupError(f"{model.__name__} is not a registered kind of job (see core.jobs.kinds.job_kind)") from None


def kind_for_label(label: str) -> JobKind:
    try:
        return KINDS[label]
    except KeyError:
        raise LookupError(f"no kind of job is registered as {label!r}") from None
