"""The review queue: which examples a reviewer sees, and claims so that two reviewers never get the same one.

A claim is the pair (claimed_by, claimed_until) on an Example. The rules:

- An item is *free* for a reviewer when it is unclaimed, when its claim has expired, or when the reviewer
  already holds it.
- Taking an item is one conditional UPDATE (`... WHERE pk = ? AND <free for me>`), which the database runs
  atomically on SQLite and PostgreSQL alike: of two reviewers racing for one item exactly one gets it, and
  the other moves on to the next free item.
- A claim lasts settings.REVIEW_CLAIM_SECONDS and every action on the item renews it.
- A reviewer holds at most one claim: taking an item releases the others they held; a decision releases it.

Nothing here renders anything; the review pages call these functions.
"""
from dataclasses import dataclass, fields
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from core.params import is_id
from curation.models import Example
from curation.workspace.table import with_tag

CHUNK = 50  # candidates read per query while looking for a free item


def claim_duration():
    return timedelta(seconds=settings.REVIEW_CLAIM_SECONDS)


def _free_for(user, now):
    return Q(claimed_by__isnull=True) | Q(claimed_until__isnull=True) | Q(claimed_until__lte=now) | Q(claimed_by=user)


def try_claim(example_id, user, now=None):
    """Take (or renew) the claim on one example; False when someone else holds a live claim on it."""
    now = now or timezone.now()
    taken = Example.objects.filter(_free_for(user, now), pk=example_id).update(
        claimed_by=user, claimed_until=now + claim_duration()
    )
    if taken != 1:
        return False
    Example.objects.filter(claimed_by=user).exclude(pk=example_id).update(claimed_by=None, claimed_until=None)
    return True


def release(example_id, user):
    """Give an item back (after a decision); only the holder's claim is removed."""
    Example.objects.filter(pk=example_id, claimed_by=user).update(claimed_by=None, claimed_until=None)


def holder(example, user, now=None):
    """The other user holding a live claim on `example`, or None when the user may work on it."""
    now = now or timezone.now()
    if example.claimed_by_id in (None, user.pk) or example.claimed_until is None or example.claimed_until <= now:
        return None
    return example.claimed_by


# --- Filters ---------------------------------------------------------------------------------------------

FLAGS = {
    "has_warnings": "Has style warnings",
    "multi_turn": "Multi-turn",
    "never_reviewed": "Never reviewed",
    "second_opinion": "Reviewed once, by someone else",
    "edited": "Edited since created",
    "near_duplicates": "Has near-duplicates",
}


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters, as they travel in the query string. Empty means "any"."""

    source: str = ""
    domain: str = ""
    status: str = Example.Status.CANDIDATE
    split: str = ""
    import_run: str = ""
    tag: str = ""  # e.g. the tag "send to review" put on examples from the table
    flag: str = ""

    @classmethod
    def from_query(cls, query):
        values = {f.name: query.get(f.name, f.default).strip() for f in fields(cls)}
        if values["status"] not in {"", *Example.Status.values}:
            values["status"] = cls.status
        if values["split"] not in {"", *Example.Split.values}:
            values["split"] = ""
        if values["flag"] not in {"", *FLAGS}:
            values["flag"] = ""
        for numeric in ("source", "import_run"):
            if not is_id(values[numeric]):
                values[numeric] = ""
        return cls(**values)

    def as_query(self):
        """The non-default filters as query parameters (status is always kept, since "" means any)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) or f.name == "status"}


def queue_queryset(filters, user):
    """Examples matching the filters (all but the Python-only flag), in queue order."""
    examples = Example.objects.all()
    if filters.status:
        examples = examples.filter(status=filters.status)
    if filters.split:
        examples = examples.filter(split=filters.split)
    if filters.source:
        examples = examples.filter(source_id=int(filters.source))
    if filters.import_run:
        examples = examples.filter(import_run_id=int(filters.import_run))
    if filters.domain:
        examples = examples.filter(domain=filters.domain)
    if filters.tag:
        examples = with_tag(examples, filters.tag)
    if filters.flag == "multi_turn":
        examples = examples.annotate(turn_count=Count("turns")).filter(turn_count__gt=2)
    elif filters.flag == "never_reviewed":
        examples = examples.filter(reviews__isnull=True)
    elif filters.flag == "second_opinion":
        # Items for the agreement figure: one other reviewer has decided, this one has not.
        examples = examples.annotate(reviewers=Count("reviews__reviewer", distinct=True)).filter(
            reviewers=1
        ).exclude(reviews__reviewer=user)
    elif filters.flag == "edited":
        examples = examples.filter(version__gt=1)
    elif filters.flag == "near_duplicates":  # curation.dedupe's clusters, from its last pass
        examples = examples.filter(duplicate__isnull=False)
    return examples.order_by("pk")


def _matches_python_flag(example, filters):
    if filters.flag != "has_warnings":
        return True
    from curation.workspace.lint import conversation_has_warnings

    return conversation_has_warnings(example.conversation)


def claim_next(user, filters, *, after=None, before=None, exclude=None, now=None):
    """Claim the first free item after `after` (or the last one before `before`) that matches the filters.

    Returns the claimed Example, or None when no free item is left in that direction.
    """
    now = now or timezone.now()
    candidates = queue_queryset(filters, user).filter(_free_for(user, now))
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude)
    if before is not None:
        candidates = candidates.filter(pk__lt=before).order_by("-pk")
    elif after is not None:
        candidates = candidates.filter(pk__gt=after)
    while True:
        chunk = list(candidates.prefetch_related("turns")[:CHUNK])
        if not chunk:
            return None
        for example in chunk:
            if _matches_python_flag(example, filters) and try_claim(example.pk, user, now):
                example.refresh_from_db(fields=["claimed_by", "claimed_until", "version", "status", "split"])
                return example
        last = chunk[-1].pk
        candidates = candidates.filter(pk__lt=last) if before is not None else candidates.filter(pk__gt=last)


def current_claim(user, filters, now=None):
    """The item this reviewer holds and that still matches the filters (so a reload shows the same item)."""
    now = now or timezone.now()
    held = queue_queryset(filters, user).filter(claimed_by=user, claimed_until__gt=now).first()
    if held is not None and _matches_python_flag(held, filters) and try_claim(held.pk, user, now):
        return held
    return None


def queue_counts(user, filters, now=None):
    """(items matching the filters, of which held by other reviewers right now)."""
    now = now or timezone.now()
    matching = queue_queryset(filters, user)
    held_by_others = matching.filter(claimed_until__gt=now).exclude(claimed_by=user).exclude(claimed_by=None)
    return matching.count(), held_by_others.count()
