"""The review queue: which examples a reviewer sees, and claims so that two reviewers never get the same one.

A claim is the pair (claimed_by, claimed_until) on an Example. The rules:

- An item is *free* for a reviewer when it is unclaimed, when its claim has expired, or when the reviewer
  already holds it.
- Taking an item is one conditional UPDATE (`... WHERE pk = ? AND <free for me>`), which the database runs
  atomically on SQLite and PostgreSQL alike: of two reviewers racing for one item exactly one gets it, and
  the other moves on to the next free item.
- Taking the next free item is one UPDATE too: `... WHERE id = (SELECT id ... LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING id`. On PostgreSQL a row another reviewer is taking at this instant is passed over rather than waited
  for (and re-checked once they commit); SQLite runs one writer at a time, so the subquery cannot race there.
- A claim lasts settings.REVIEW_CLAIM_SECONDS and every action on the item renews it.
- A reviewer holds at most one claim: taking an item releases the others they held (except one another reviewer
  is taking over at that instant); a decision releases it.

Nothing here renders anything; the review pages call these functions.
"""
from dataclasses import dataclass, fields
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from core import cached
from core.params import is_id
from curation.models import Example, Turn
from curation.workspace.table import with_tag

CHUNK = 50  # candidates read per query while looking for a free item that passes a Python-only flag
# A queue this long is counted at most every COUNT_CACHE_SECONDS (shared by every reviewer): a figure like 16,021
# a few seconds old reads the same, and counting it is the costliest query of the page. Shorter queues are
# counted exactly on every request (cheap, and there one item more or less shows).
COUNT_CACHE_MIN = 1000
COUNT_CACHE_SECONDS = 15


def claim_duration():
    return timedelta(seconds=settings.REVIEW_CLAIM_SECONDS)


def _free_for(user, now):
    return Q(claimed_by__isnull=True) | Q(claimed_until__isnull=True) | Q(claimed_until__lte=now) | Q(claimed_by=user)


def _release_others(example_id, user):
    """Drop the user's other claims, passing over rows someone is locking right now: they are taking over that
    (expired) claim. Waiting for them instead deadlocks when two reviewers take each other's expired items."""
    held = Example.objects.filter(claimed_by=user).exclude(pk=example_id).select_for_update(skip_locked=True)
    Example.objects.filter(pk__in=held.values("pk")).update(claimed_by=None, claimed_until=None)


@transaction.atomic(savepoint=False)  # one commit for the claim and the release (no savepoint inside a view's)
def try_claim(example_id, user, now=None, *, release_others=True):
    """Take (or renew) the claim on one example; False when someone else holds a live claim on it.
    (`release_others=False`: the caller claims another item right after, which releases them.)"""
    now = now or timezone.now()
    taken = Example.objects.filter(_free_for(user, now), pk=example_id).update(
        claimed_by=user, claimed_until=now + claim_duration()
    )
    if taken != 1:
        return False
    if release_others:
        _release_others(example_id, user)
    return True


def _grouped(queryset):
    return queryset.query.group_by is not None or any(
        getattr(annotation, "contains_aggregate", False) for annotation in queryset.query.annotations.values()
    )


@transaction.atomic(savepoint=False)
def _claim_first(candidates, user, now):
    """Claim the first of `candidates` (in their order) that is free for `user`, in one UPDATE ... RETURNING;
    the id, or None when none is free."""
    if _grouped(candidates):  # FOR UPDATE refuses GROUP BY: pick among the ids the grouped query selects
        candidates = Example.objects.filter(pk__in=candidates.order_by().values("pk")).order_by(
            *candidates.query.order_by)
    pick = candidates.filter(_free_for(user, now)).values("pk")[:1].select_for_update(skip_locked=True, of=("self",))
    connection = connections[pick.db]
    sql, params = pick.query.get_compiler(using=pick.db).as_sql()
    until = Example._meta.get_field("claimed_until").get_db_prep_save(now + claim_duration(), connection)
    table, qn = Example._meta.db_table, connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(table)} SET {qn('claimed_by_id')} = %s, {qn('claimed_until')} = %s "
            f"WHERE {qn('id')} = ({sql}) RETURNING {qn('id')}",
            [user.pk, until, *params],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    _release_others(row[0], user)
    return row[0]


def shown_example(pk):
    """An example with what the review panel shows of it, in two queries (the row with its joins, its turns)."""
    return (Example.objects.select_related("source", "import_run", "claimed_by")
            .prefetch_related(Prefetch("turns", queryset=Turn.objects.order_by("position")))
            .filter(pk=pk).first())


def release(example_id, user):
    """Give an item back (after a decision); only the holder's claim is removed."""
    Example.objects.filter(pk=example_id, claimed_by=user).update(claimed_by=None, claimed_until=None)


def release_all(user):
    """Give back every item the reviewer holds (the queue has nothing left for them)."""
    Example.objects.filter(claimed_by=user).update(claimed_by=None, claimed_until=None)


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
    candidates = queue_queryset(filters, user)
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude)
    if before is not None:
        candidates = candidates.filter(pk__lt=before).order_by("-pk")
    elif after is not None:
        candidates = candidates.filter(pk__gt=after)
    if filters.flag != "has_warnings":
        claimed = _claim_first(candidates, user, now)
        return None if claimed is None else shown_example(claimed)
    candidates = candidates.filter(_free_for(user, now))
    while True:
        chunk = list(candidates.prefetch_related("turns")[:CHUNK])
        if not chunk:
            return None
        for example in chunk:
            if _matches_python_flag(example, filters) and try_claim(example.pk, user, now):
                return shown_example(example.pk)
        last = chunk[-1].pk
        candidates = candidates.filter(pk__lt=last) if before is not None else candidates.filter(pk__gt=last)


def current_claim(user, filters, now=None):
    """The item this reviewer holds and that still matches the filters (so a reload shows the same item)."""
    now = now or timezone.now()
    held = queue_queryset(filters, user).filter(claimed_by=user, claimed_until__gt=now)
    if filters.flag != "has_warnings":
        claimed = _claim_first(held, user, now)  # renewed in the same statement
        return None if claimed is None else shown_example(claimed)
    held = held.first()
    if held is not None and _matches_python_flag(held, filters) and try_claim(held.pk, user, now):
        return held
    return None


def _matching_count(matching, filters, user):
    # second_opinion depends on who asks; every other filter gives everyone the same queue.
    key = "review-count:" + repr(sorted(filters.as_query().items())) + (
        f":{user.pk}" if filters.flag == "second_opinion" else "")
    count = cached.get(key)
    if count is None or count < COUNT_CACHE_MIN:
        count = matching.count()
        if count >= COUNT_CACHE_MIN:
            cached.put(key, count, COUNT_CACHE_SECONDS)
    return count


def queue_counts(user, filters, now=None):
    """(items matching the filters, of which held by other reviewers right now)."""
    now = now or timezone.now()
    matching = queue_queryset(filters, user)
    # Live claims are few: `claimed_by IS NOT NULL` lets the database find them by that column's index.
    held_by_others = matching.filter(claimed_by__isnull=False, claimed_until__gt=now).exclude(claimed_by=user)
    return _matching_count(matching, filters, user), held_by_others.count()
