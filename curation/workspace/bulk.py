"""Bulk actions on examples: approve, reject with a reason, set the split, tag, untag, send to the review queue,
delete — on examples picked in the table (with the version each showed) or on all that match its filters (with
the time the page was shown).

Each action writes what the single verbs of curation.services write, row for row (a revision per change with
the verb's note, a Review per decision — tests/curation/workspace/test_bulk.py compares them field by field),
set-based: a chunk of examples is locked, checked and changed in a few statements, so 10,000 examples take
seconds, not minutes. An example is skipped, with the reason kept, when

- it changed after the page showed it (`stale`: another version than the one sent, or, for "all matching",
  changed after the page's time), was added after it (`new`), or was deleted meanwhile (`gone`);
- another reviewer holds it in the review queue right now (`held`), as the review page would refuse it;
- the action would change nothing (`unchanged`: already approved, already in that split…);
- deleting it would break a frozen dataset version (`protected`).

Who may: the role's permissions (core.roles) — approving and rejecting need `add_review`, splits, tags and the
queue `change_example` (annotators have both), deleting `delete_example` (admins only).

Every bulk action is a BulkActionJob row. Up to BULK_JOB_MIN_EXAMPLES examples it runs in the request (the
same code, in this process); above, a worker runs it with progress and cancel. Chunks commit one by one: a
cancelled or failed job keeps the chunks it finished, and its counts say how many.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.jobs.context import JobFailed
from core.jobs.kinds import job_kind
from core.jobs.runner import enqueue, run_here
from curation.models import DatasetItem, Example, Review, Revision
from curation.services import DECISION_STATUS, current_texts, new_revision, review_note
from curation.workspace import registry
from curation.workspace.models import BulkActionJob
from curation.workspace.queue import holder
from curation.workspace.table import FilterError, TableFilters, filtered_examples

CHUNK = 500  # examples locked and changed in one transaction
IDS_KEPT = 100  # ids kept per skip reason (the counts are exact)
MAX_ITEMS = 100_000  # examples one request may name by id
QUEUE_TAG = "review"  # the tag "send to review" adds unless told another

SKIP_REASONS = {
    "stale": "changed since the page showed it",
    "new": "added after the page was shown",
    "gone": "deleted meanwhile",
    "held": "being reviewed by someone else right now",
    "protected": "in a frozen dataset version",
}


class BulkError(ValueError):
    """A request the action cannot take (400); `field` names the input at fault."""

    def __init__(self, message, field="action"):
        self.field = field
        super().__init__(message)


# --- What was done -----------------------------------------------------------------------------------------

class Report:
    """Counts of one job: changed, and skipped by reason with the first ids. Read by the heartbeat thread."""

    def __init__(self, changed=0, skipped=None):
        self.changed = changed
        self.skipped = {reason: {"count": entry["count"], "ids": list(entry["ids"])}
                        for reason, entry in (skipped or {}).items()}
        self.lock = threading.Lock()

    def skip(self, reason, pk):
        with self.lock:
            entry = self.skipped.setdefault(reason, {"count": 0, "ids": []})
            entry["count"] += 1
            if len(entry["ids"]) < IDS_KEPT:
                entry["ids"].append(pk)

    def merge(self, other):
        with self.lock:
            self.changed += other.changed
            for reason, entry in other.skipped.items():
                mine = self.skipped.setdefault(reason, {"count": 0, "ids": []})
                mine["count"] += entry["count"]
                mine["ids"] = (mine["ids"] + entry["ids"])[:IDS_KEPT]

    def fields(self):
        with self.lock:
            return {"changed": self.changed,
                    "skipped": {reason: {"count": e["count"], "ids": list(e["ids"])} for reason, e in self.skipped.items()}}


# --- Which examples ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    """Examples named by id with the version each showed, or all that match `filters` as of `as_of`."""

    items: dict | None = None  # {id: version}
    filters: TableFilters | None = None
    as_of: datetime | None = None

    @classmethod
    def from_dict(cls, data, *, strict=True):
        """From a job's stored selection or a request: {"items": [{"id", "version"}] or {id: version}} or
        {"filters": {...}, "as_of": ISO time}. Refuses what it cannot read with BulkError."""
        data = dict(data or {})
        items, filters = data.get("items"), data.get("filters")
        if (items is None) == (filters is None):
            raise BulkError("Name the examples (items, with the version of each) or give filters (all matching).",
                            field="items")
        if items is not None:
            return cls(items=_parse_items(items))
        if not isinstance(filters, dict):
            raise BulkError("filters: an object of the table's filters, e.g. {\"status\": \"candidate\"}.", "filters")
        try:
            parsed = TableFilters.from_query(filters, strict=strict)
        except FilterError as error:
            raise BulkError("; ".join(f"{k}: {v}" for k, v in error.errors.items()), field="filters") from None
        return cls(filters=parsed, as_of=_parse_time(data.get("as_of")))

    def to_dict(self):
        if self.items is not None:
            return {"items": {str(pk): version for pk, version in self.items.items()}}
        return {"filters": self.filters.as_dict(), "as_of": self.as_of.isoformat()}

    def candidate_ids(self):
        """The ids to look at, in order: the named ones, or those matching the filters now."""
        if self.items is not None:
            return sorted(self.items)
        return list(filtered_examples(self.filters).order_by("pk").values_list("pk", flat=True))

    def refusal(self, example):
        """Why `example` (locked, as it is now) must not be touched: "stale", "new", or None."""
        if self.items is not None:
            return "stale" if example.version != self.items[example.pk] else None
        if example.created_at > self.as_of:
            return "new"
        return "stale" if example.updated_at > self.as_of else None


def _parse_items(items):
    if isinstance(items, dict):
        pairs = list(items.items())
    elif isinstance(items, list):
        try:
            pairs = [(item["id"], item["version"]) for item in items]
        except (TypeError, KeyError):
            raise BulkError("items: a list of {\"id\": …, \"version\": …}, the version each example showed.",
                            field="items") from None
    else:
        raise BulkError("items: a list of {\"id\": …, \"version\": …}.", field="items")
    if not pairs:
        raise BulkError("Select at least one example.", field="items")
    if len(pairs) > MAX_ITEMS:
        raise BulkError(f"At most {MAX_ITEMS:,} examples by id; select all matching a filter instead.", field="items")
    parsed = {}
    for pk, version in pairs:
        try:
            pk, version = int(pk), int(version)
        except (TypeError, ValueError):
            raise BulkError(f"items: {pk!r} / {version!r} is not an id and a version.", field="items") from None
        if not (0 < pk < 2**63 and 0 < version < 2**31):
            raise BulkError(f"items: no example #{pk} at version {version}.", field="items")
        parsed[pk] = version
    return parsed


def _parse_time(value):
    if value in (None, ""):
        return timezone.now()  # without the page's time, "as of now": nothing is stale yet
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise BulkError(f"as_of: {value!r} is not an ISO time.", field="as_of") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


# --- The actions ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BulkAction:
    key: str
    label: str  # the button: "Approve"
    done: str  # the report: "approved"
    permission: str  # the Django permission it needs (core.roles grants them)
    run: Callable  # run(examples (locked, fresh), params, user, report): changes them, reports what it skipped
    unchanged: str = "already so"  # why an example needed nothing
    clean: Callable = field(default=lambda params: {})  # params (a dict) -> the cleaned params, or BulkError
    touches_examples: bool = True  # False: reads them only (stale and held ones are not skipped)
    cost: int = 1  # relative cost an example: the in-request limit is BULK_JOB_MIN_EXAMPLES / cost
    confirm: str = ""  # a question to confirm before running it from the page
    rank: int = 100

    def in_request_limit(self):
        return max(1, settings.BULK_JOB_MIN_EXAMPLES // self.cost)


def _save_edits(examples, author, note, changed):
    """services.edit_example for many examples whose fields `changed` were set in memory: version + 1, saved, and
    a revision of the full content with `note(example)`. Returns the revisions, in the examples' order.

    One UPDATE per distinct set of new values (an approval: one for the whole chunk), rather than Django's
    bulk_update, whose CASE per row and field costs more to build than the database takes to run."""
    if not examples:
        return []
    texts = current_texts([example.pk for example in examples])
    now = timezone.now()
    groups = {}
    for example in examples:
        example.version += 1
        example.updated_at = now  # what auto_now gives a save()
        values = tuple((name, json.dumps(getattr(example, name))) for name in changed)
        groups.setdefault(values, []).append(example.pk)
    for values, pks in groups.items():
        Example.objects.filter(pk__in=pks).update(
            version=F("version") + 1, updated_at=now, **{name: json.loads(value) for name, value in values})
    return Revision.objects.bulk_create(new_revision(example, texts[example.pk], author, note(example))
                                        for example in examples)


def _todo(examples, report, needs_change):
    todo = []
    for example in examples:
        if needs_change(example):
            todo.append(example)
        else:
            report.skip("unchanged", example.pk)
    return todo


def _decide(decision):
    """services.review_example for many: the status moves (a revision), and a Review of that revision."""
    target = DECISION_STATUS[decision]

    def run(examples, params, user, report):
        todo = _todo(examples, report, lambda example: example.status != target)
        for example in todo:
            example.status = target
        reason, comment = params.get("reason", ""), params.get("comment", "")
        revisions = _save_edits(todo, user, lambda example: review_note(decision, reason), ["status"])
        Review.objects.bulk_create(
            Review(example=example, revision=revision, reviewer=user, decision=decision, reason=reason, comment=comment)
            for example, revision in zip(todo, revisions)
        )
        report.changed += len(todo)

    return run


def _clean_reject(params):
    reason = str(params.get("reason") or "").strip()
    comment = str(params.get("comment") or "").strip()
    if not reason:
        raise BulkError("A rejection needs a reason.", field="reason")
    if len(reason) > 100 or len(comment) > 2000:
        raise BulkError("A reason is at most 100 characters, a comment 2,000.", field="reason")
    if reason == "other" and not comment:
        raise BulkError("Say why in a few words (the comment).", field="comment")
    return {"reason": reason, "comment": comment}


def _clean_split(params):
    split = str(params.get("split") or "")
    if split not in Example.Split.values:
        raise BulkError(f"Pick a split: {', '.join(Example.Split.values)}.", field="split")
    return {"split": split}


def _clean_tag(params, required=True):
    tag = str(params.get("tag") or "").strip()
    if not tag and required:
        raise BulkError("Name the tag.", field="tag")
    if len(tag) > 100 or "," in tag:
        raise BulkError("A tag is at most 100 characters, without commas.", field="tag")
    return {"tag": tag}


def _set_split(examples, params, user, report):
    split = params["split"]
    todo = _todo(examples, report, lambda example: example.split != split)
    for example in todo:
        example.split = split
    _save_edits(todo, user, lambda example: f"split: {split}", ["split"])  # the review page's note
    report.changed += len(todo)


def _tag(examples, params, user, report):
    tag = params["tag"]
    todo = _todo(examples, report, lambda example: tag not in example.tags)
    for example in todo:
        example.tags = [*example.tags, tag]
    _save_edits(todo, user, lambda example: f"tagged: {tag}", ["tags"])
    report.changed += len(todo)


def _untag(examples, params, user, report):
    tag = params["tag"]
    todo = _todo(examples, report, lambda example: tag in example.tags)
    for example in todo:
        example.tags = [name for name in example.tags if name != tag]
    _save_edits(todo, user, lambda example: f"untagged: {tag}", ["tags"])
    report.changed += len(todo)


def _send_to_review(examples, params, user, report):
    """Back to the review queue: a candidate again, tagged so that /review/?tag=… shows just these."""
    tag = params["tag"]
    candidate = Example.Status.CANDIDATE
    todo = _todo(examples, report, lambda example: example.status != candidate or tag not in example.tags)
    for example in todo:
        example.status = candidate
        if tag not in example.tags:
            example.tags = [*example.tags, tag]
    _save_edits(todo, user, lambda example: f"sent to review ({tag})", ["status", "tags"])
    report.changed += len(todo)


def _delete(examples, params, user, report):
    """services.delete_example for many: turns, revisions and reviews go too; a frozen version's are kept."""
    pks = [example.pk for example in examples]
    pinned = set(DatasetItem.objects.filter(example_id__in=pks).values_list("example_id", flat=True))
    for pk in sorted(pinned):
        report.skip("protected", pk)
    doomed = [pk for pk in pks if pk not in pinned]
    Example.objects.filter(pk__in=doomed).delete()
    report.changed += len(doomed)


BUILT_IN = {
    action.key: action
    for action in [
        BulkAction("approve", "Approve", "approved", "curation.add_review", _decide("approve"),
                   unchanged="already approved", rank=10),
        BulkAction("reject", "Reject", "rejected", "curation.add_review", _decide("reject"),
                   unchanged="already rejected", clean=_clean_reject, rank=20),
        BulkAction("split", "Set split", "moved to the split", "curation.change_example", _set_split,
                   unchanged="already in that split", clean=_clean_split, rank=30),
        BulkAction("tag", "Tag", "tagged", "curation.change_example", _tag, unchanged="already tagged",
                   clean=_clean_tag, rank=40),
        BulkAction("untag", "Untag", "untagged", "curation.change_example", _untag, unchanged="not tagged",
                   clean=_clean_tag, rank=50),
        BulkAction("queue", "Send to review", "sent to the review queue", "curation.change_example",
                   _send_to_review, unchanged="already a candidate with that tag",
                   clean=lambda params: {"tag": _clean_tag(params, required=False)["tag"] or QUEUE_TAG}, rank=60),
        BulkAction("delete", "Delete", "deleted", "curation.delete_example", _delete,
                   confirm="Delete the selected examples with their history? This cannot be undone.", rank=90),
    ]
}


def all_actions():
    """Every action, the built-in ones and those other modules registered (curation.workspace.registry)."""
    return sorted({**BUILT_IN, **registry.actions()}.values(), key=lambda action: action.rank)


def get_action(key):
    return BUILT_IN.get(key) or registry.actions().get(key)


def allowed_actions(user):
    return [action for action in all_actions() if user.has_perm(action.permission)]


def skip_label(action, reason):
    return action.unchanged if reason == "unchanged" else SKIP_REASONS.get(reason, reason)


# --- Running ----------------------------------------------------------------------------------------------

def _run_chunk(action, pks, selection, params, user):
    """One transaction: lock the chunk's examples (in id order, so two bulk actions never deadlock), skip those
    that are gone, stale or held, and let the action change the rest."""
    report = Report()
    with transaction.atomic():
        rows = Example.objects.select_for_update().filter(pk__in=pks).defer("metadata").order_by("pk")
        locked = {example.pk: example for example in rows}
        now = timezone.now()
        fresh = []
        for pk in pks:
            example = locked.get(pk)
            if example is None:
                report.skip("gone", pk)
            elif action.touches_examples and (reason := selection.refusal(example)):
                report.skip(reason, pk)
            elif action.touches_examples and holder(example, user, now) is not None:
                report.skip("held", pk)
            else:
                fresh.append(example)
        action.run(fresh, params, user, report)
    return report


def start_bulk_action(user, key, *, params=None, selection):
    """Check and record a bulk action, then run it here (small selections) or queue it for a worker. Returns the
    BulkActionJob: succeeded (or failed) when it ran here, queued otherwise. Raises BulkError for a request it
    cannot take, PermissionDenied when the user's role does not allow the action."""
    action = get_action(key)
    if action is None:
        raise BulkError(f"Unknown action {key!r}: choose one of {', '.join(a.key for a in all_actions())}.")
    if not user.has_perm(action.permission):
        raise PermissionDenied(f"Your role does not allow this: {action.label.lower()} needs {action.permission}.")
    params = action.clean(dict(params or {}))
    total = len(selection.candidate_ids())
    if total == 0:
        raise BulkError("No example matches: nothing to do.", field="items")
    job = BulkActionJob.objects.create(
        action=action.key, params=params, selection=selection.to_dict(), total=total, created_by=user,
    )
    if total <= action.in_request_limit():
        return run_here(job)
    return enqueue(job)


@job_kind(BulkActionJob, queue="default", expected_errors=(BulkError,))
def run_bulk_action(job, context):
    action = get_action(job.action)
    user = job.created_by
    if action is None:
        raise JobFailed(f"No bulk action is called {job.action!r} any more.")
    if user is None or not user.is_active or not user.has_perm(action.permission):
        raise JobFailed("The person who started this bulk action may not do it (any more).")
    selection = Selection.from_dict(job.selection, strict=False)
    pks = selection.candidate_ids()
    report = Report(job.changed, job.skipped)  # a job started again goes on counting
    context.report = report.fields
    context.progress(0, total=len(pks), phase=action.label)
    for start in range(0, len(pks), CHUNK):
        context.check()
        chunk = pks[start:start + CHUNK]
        report.merge(_run_chunk(action, chunk, selection, job.params, user))
        context.progress(start + len(chunk))
    context.progress(phase="")
