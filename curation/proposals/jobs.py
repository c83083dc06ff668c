"""Proposing a set as a job, and accepting it as a tagged review queue."""
from __future__ import annotations

import numpy as np
from django.utils import timezone

from core.jobs.kinds import job_kind
from core.jobs.runner import enqueue, execute
from curation.models import Proposal
from curation.proposals import inputs
from curation.proposals.quality import NEUTRAL, combine, scaled_quotas
from curation.proposals.select import Candidates, coverage, propose
from curation.workspace.figures import LIMA_AVERAGE_TOKENS

DEFAULT_SIZE = 1000  # LIMA.md: 1,000 training examples
MAX_SIZE = 100_000


class ProposalError(ValueError):
    def __init__(self, message, field="size"):
        super().__init__(message)
        self.field = field


def start_proposal(*, size=DEFAULT_SIZE, quality_weight=0.5, targets_from="lima", name="", author=None,
                   run_async=True) -> Proposal:
    """Check the request and queue it (or run it here: the command, tests). Refuses with ProposalError."""
    try:
        size = int(size)
    except (TypeError, ValueError):
        raise ProposalError(f"size: a whole number of examples, not {size!r}.") from None
    if not 1 <= size <= MAX_SIZE:
        raise ProposalError(f"size: between 1 and {MAX_SIZE:,} examples (LIMA took 1,000), not {size:,}.")
    try:
        quality_weight = float(quality_weight)
    except (TypeError, ValueError):
        raise ProposalError(f"quality_weight: a number from 0 to 1, not {quality_weight!r}.", "quality_weight") from None
    if not 0.0 <= quality_weight <= 1.0:
        raise ProposalError("quality_weight: from 0 (diversity only) to 1 (quality only).", "quality_weight")
    if targets_from not in ("lima", "dashboard"):
        raise ProposalError("targets: 'lima' (LIMA's Table 1) or 'dashboard' (the dashboard's targets).", "targets")
    targets = inputs.train_targets(targets_from)
    if not targets:
        raise ProposalError("The train split has no targets: set some on the dashboard.", "targets")
    job = Proposal.objects.create(
        name=(name or "").strip()[:200] or f"{size:,} for train",
        size=size, quality_weight=quality_weight, targets_from=targets_from,
        quotas=scaled_quotas(targets, size), total=4,
        created_by=author if author is not None and author.is_authenticated else None,
    )
    if not run_async:
        return execute(job._meta.label_lower, job.pk)
    return enqueue(job)


@job_kind(Proposal, queue="default", expected_errors=(ProposalError,))
def run_proposal(job, context):
    context.progress(0, phase="reading candidates")
    pool = inputs.load_pool()
    if not len(pool):
        raise ProposalError("No candidate: every example is rejected, held out in dev/test, or has no response.")
    columns = inputs.quality_columns(pool.ids)
    context.progress(1, phase="reading embeddings")
    context.check()
    matrix, without_embedding = inputs.vectors(pool.ids)
    cluster_of = inputs.clusters(pool.ids)
    context.progress(2, phase="picking")
    context.check()
    quality = combine(columns) if columns else np.full(len(pool), NEUTRAL)
    candidates = Candidates(ids=pool.ids, groups=pool.groups, quality=quality, vectors=matrix,
                            clusters=cluster_of)
    selection = propose(candidates, job.quotas, quality_weight=job.quality_weight)
    context.progress(3, phase="comparing")
    figures = compare(pool, candidates, selection, job.quotas)
    figures.update(
        signals=sorted(columns), without_embedding=without_embedding, excluded=pool.excluded,
        in_duplicate_clusters=int((cluster_of >= 0).sum()),
    )
    context.succeed(examples=selection.ids, by_group=selection.by_group, shortfall=selection.shortfall,
                    figures=figures, done=4, phase="")


def compare(pool, candidates, selection, quotas) -> dict:
    """The proposal beside the approved train set and LIMA's: composition, response lengths, coverage."""
    index = {int(pk): i for i, pk in enumerate(pool.ids)}
    picked = [index[pk] for pk in selection.ids]
    approved = [i for i, (st, sp) in enumerate(zip(pool.status, pool.split, strict=True))
                if st == "approved" and sp == "train"]
    groups = np.asarray(pool.groups)

    def per_group(rows):
        counts, medians = {}, {}
        for group in sorted(set(groups[rows]) if rows else ()):
            in_group = [i for i in rows if groups[i] == group]
            counts[group] = len(in_group)
            medians[group] = int(np.median(pool.response_tokens[in_group]))
        return counts, medians

    proposed_counts, proposed_lengths = per_group(picked)
    approved_counts, approved_lengths = per_group(approved)
    candidate_counts = {group: int((groups == group).sum()) for group in sorted(set(pool.groups))}
    return {
        "candidates": len(pool),
        "candidates_by_group": candidate_counts,
        "composition": {
            group: {"quota": quotas.get(group, 0), "proposed": proposed_counts.get(group, 0),
                    "approved": approved_counts.get(group, 0), "candidates": candidate_counts.get(group, 0)}
            for group in sorted(set(quotas) | set(approved_counts))
        },
        "median_response_tokens": {
            group: {"proposed": proposed_lengths.get(group), "approved": approved_lengths.get(group),
                    "lima_mean": LIMA_AVERAGE_TOKENS.get(group, (None, None))[1]}
            for group in sorted(set(proposed_lengths) | set(approved_lengths))
        },
        "coverage": {"proposed": round(selection.coverage, 4),
                     "approved": round(coverage(candidates.vectors, approved), 4), "approved_count": len(approved)},
    }


def accept_proposal(proposal, user):
    """Tag the proposal's examples (revisions written, as any bulk tag) so that /review/?tag=… is their queue.
    Examples changed since the proposal are tagged as they are now: the tag is a queue, not a decision."""
    from curation.workspace.bulk import Selection, start_bulk_action

    if proposal.status != Proposal.Status.SUCCEEDED:
        raise ProposalError("Only a finished proposal can be accepted.", "proposal")
    versions = dict(
        proposal_examples(proposal).values_list("pk", "version")
    )
    if not versions:
        raise ProposalError("None of the proposal's examples exists any more.", "proposal")
    job = start_bulk_action(user, "tag", params={"tag": proposal.review_tag}, selection=Selection(items=versions))
    Proposal.objects.filter(pk=proposal.pk).update(tag=proposal.review_tag, accepted_at=timezone.now())
    proposal.refresh_from_db()
    return job


def proposal_examples(proposal):
    from curation.models import Example

    return Example.objects.filter(pk__in=proposal.examples)


def summary(proposal) -> dict:
    """The command's --json line."""
    return {
        "proposal": proposal.pk,
        "status": proposal.status,
        "examples": proposal.examples,
        "composition": {group: len(ids) for group, ids in proposal.by_group.items()},
        "shortfall": proposal.shortfall,
        "error": proposal.error,
    }
