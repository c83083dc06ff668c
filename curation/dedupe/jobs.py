"""A duplicate search as a job (DedupeRun): curation.dedupe.index.refresh on a worker, with progress. Started after
each import that created or changed examples, and from /duplicates/; one at a time (starting one while another
waits returns the waiting one)."""
from django.db import transaction

from core.jobs.kinds import job_kind
from core.jobs.runner import enqueue, run_here
from curation.dedupe import index
from curation.dedupe.models import DedupeRun


def start_dedupe(reason="", *, run_async=True):
    """Queue a pass (or return the one already queued); run it here without `run_async`."""
    with transaction.atomic():
        waiting = DedupeRun.objects.select_for_update().filter(status=DedupeRun.Status.QUEUED).first()
        if waiting is not None:
            return waiting
        run = DedupeRun.objects.create(reason=reason[:100])
    return enqueue(run) if run_async else run_here(run)


@job_kind(DedupeRun, queue="default")
def run_dedupe(run, context):
    """Nothing to discard: the clusters are replaced in one transaction, and signatures kept are right anyway."""
    context.progress(0, phase="signing")
    signed = {"n": 0}

    def on_progress(done, total):
        signed["n"] = done
        context.progress(done, total=total)
        context.check()

    def on_phase(phase):
        context.progress(phase=phase)
        context.check()

    clusters = index.refresh(on_progress=on_progress, on_phase=on_phase)
    context.succeed(phase="", signed=signed["n"], clusters=len(clusters),
                    clustered=sum(len(members) for members in clusters))
