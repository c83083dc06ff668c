"""Freezing as a job: a selection of more than FREEZE_JOB_MIN_EXAMPLES examples is frozen by a worker (100k
examples take about half a minute), with progress; smaller ones are frozen in the request."""
from django.conf import settings

from core.jobs.kinds import job_kind
from core.jobs.runner import enqueue, execute
from curation.datasets.versions import FreezeError, Selection, freeze_version, select_examples
from curation.models import FreezeJob


def needs_a_job(selection) -> bool:
    return select_examples(selection).count() > settings.FREEZE_JOB_MIN_EXAMPLES


def start_freeze_job(name, *, selection, author=None, description="", run_async=True):
    """Queue the freeze of `selection` as `name`; refused at once (nothing created) without a name."""
    name = (name or "").strip()
    if not name:
        raise FreezeError("A version needs a name.", field="name")
    job = FreezeJob.objects.create(
        name=name[:200], description=description, selection=selection.to_dict(),
        created_by=author if author is not None and author.is_authenticated else None,
        total=select_examples(selection).count(),
    )
    if not run_async:
        return execute(job._meta.label_lower, job.pk)
    return enqueue(job)


@job_kind(FreezeJob, queue="default", expected_errors=(FreezeError,))
def run_freeze(job, context):
    """One transaction: a cancel or a dead worker keeps no version (nothing to discard)."""
    context.progress(0, phase="freezing")

    def on_progress(done, total):
        context.progress(done, total=total)
        context.check()

    freeze_version(
        job.name, selection=Selection.from_dict(job.selection), author=job.created_by, description=job.description,
        on_progress=on_progress,
        on_frozen=lambda version: context.succeed(version=version, done=version.example_count, phase=""),
    )
