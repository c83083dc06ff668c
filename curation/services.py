"""Named verbs that change examples. Views, the API, commands and imports all call these.

The rules they keep: roles alternate starting with the user; every change to an example's turns, status
or split leaves a Revision with the full content; a change made against an old version is refused.

Races are settled here, not in the views: a verb that changes an example first locks its row (so two
changes, or a change and a delete, take turns), and a lost race raises a named error — StaleEdit,
ExampleGone, DuplicateExample, ExampleProtected — that the API answers with 409 or 404 and a reason.
"""
import hashlib
import json
import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from core.errors import ConflictError
from curation.models import Example, Review, Revision, Source, Turn
from curation.workspace.search import index_examples

ROLES = (Turn.Role.USER, Turn.Role.ASSISTANT)


class StaleEdit(ConflictError):
    """The example changed since the caller read it. `current` holds the newer example, nothing was written."""

    def __init__(self, current):
        self.current = current
        super().__init__(
            f"Example #{current.pk} was changed by someone else: it is now at version {current.version}."
        )


class ExampleGone(Example.DoesNotExist):
    """The example was deleted while the caller was changing it (404)."""

    def __init__(self, pk):
        self.pk = pk
        super().__init__(f"Example #{pk} was deleted meanwhile.")


class DuplicateExample(ConflictError):
    """The source already has an example with this external id (its unique constraint said so)."""

    def __init__(self, source, external_id):
        self.source, self.external_id = source, external_id
        super().__init__(f"Source {source.name!r} already has an example with the id {external_id!r}.")


class ExampleProtected(ConflictError):
    def __init__(self, pk):
        super().__init__(f"Example #{pk} is part of a frozen dataset version: it cannot be deleted.")


def lock_example(example):
    """The example as it is now, its row locked until the transaction ends; ExampleGone if it was deleted.

    PostgreSQL waits here for another transaction holding the row and then reads its result; SQLite has no
    row locks, but its transactions take the write lock when they begin (settings: transaction_mode), so
    writers take turns there as well."""
    pk = getattr(example, "pk", example)
    current = Example.objects.select_for_update(of=("self",)).select_related("source").filter(pk=pk).first()
    if current is None:
        raise ExampleGone(pk)
    return current


def normalize_turns(turns):
    """LIMA's flat list of texts from either texts or {"role", "text"|"content"} dicts; refuses broken shapes.

    A conversation starts with the user and alternates; it is either a single prompt (test prompts) or ends
    with the assistant.
    """
    if not isinstance(turns, (list, tuple)) or not turns:
        raise ValidationError({"turns": "A conversation needs at least one turn."})
    texts = []
    for position, turn in enumerate(turns):
        expected_role = ROLES[position % 2]
        if isinstance(turn, dict):
            role = turn.get("role")
            text = turn.get("text", turn.get("content"))
            if role != expected_role:
                raise ValidationError(
                    {"turns": f"Turn {position + 1} must be the {expected_role}'s: roles alternate, user first."}
                )
        else:
            text = turn
        if not isinstance(text, str) or not text.strip():
            raise ValidationError({"turns": f"Turn {position + 1} is empty."})
        texts.append(text)
    if len(texts) > 1 and len(texts) % 2 == 1:
        raise ValidationError(
            {"turns": "A multi-turn conversation must end with the assistant's answer (only a lone prompt may stand alone)."}
        )
    return texts


def content_hash(turns):
    """sha256 of the canonical JSON of the texts: the same conversation always hashes the same."""
    canonical = json.dumps(list(turns), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def get_or_create_source(kind, name, **defaults):
    source, _ = Source.objects.get_or_create(kind=kind, name=name, defaults=defaults)
    return source


def manual_source():
    return get_or_create_source(Source.Kind.MANUAL, "Hand-written", licence="CC BY-NC-SA 4.0")


def _write_turns(example, texts):
    example.turns.all().delete()
    Turn.objects.bulk_create(
        Turn(example=example, position=i, role=ROLES[i % 2], text=text) for i, text in enumerate(texts)
    )
    index_examples([(example.pk, example.content_hash, texts)])  # the table's lengths and search, in step


def new_revision(example, texts, author, note):
    """The Revision (unsaved) recording `example` as it is now with `texts`: every verb writes this row, one at a
    time or in bulk (curation.workspace.bulk)."""
    return Revision(
        example=example,
        number=example.version,
        author=author,
        note=note,
        turns=list(texts),
        status=example.status,
        split=example.split,
        domain=example.domain,
        tags=list(example.tags),
        content_hash=example.content_hash,
    )


def _record_revision(example, texts, author, note):
    revision = new_revision(example, texts, author, note)
    revision.save()
    return revision


def review_note(decision, reason=""):
    """The note of the revision a decision writes: "review: reject (low_quality)"."""
    return f"review: {decision}" + (f" ({reason})" if reason else "")


@transaction.atomic
def create_example(
    *, turns, source=None, external_id=None, domain="", split=Example.Split.UNASSIGNED,
    status=Example.Status.CANDIDATE, tags=(), metadata=None, author=None, import_run=None, note="created",
):
    texts = normalize_turns(turns)
    source = source or manual_source()
    external_id = external_id or uuid.uuid4().hex
    try:
        with transaction.atomic():  # a savepoint: losing the race leaves the caller's transaction usable
            example = Example.objects.create(
                source=source,
                external_id=external_id,
                import_run=import_run,
                domain=domain,
                status=status,
                split=split,
                tags=list(tags),
                metadata=metadata or {},
                created_by=author,
                version=1,
                content_hash=content_hash(texts),
            )
    except IntegrityError:
        # The database refuses a second (source, external_id) only once the first is committed, so a lost
        # race is visible here; any other constraint goes on as it was.
        if Example.objects.filter(source=source, external_id=external_id).exists():
            raise DuplicateExample(source, external_id) from None
        raise
    _write_turns(example, texts)
    _record_revision(example, texts, author, note)
    return example


@transaction.atomic
def create_examples_bulk(rows, *, source, import_run=None, author=None, note="imported"):
    """create_example for many examples at once (imports): the same rows, written in three INSERTs
    (examples, turns, revisions) and the examples table's index (one or three statements) rather than four
    queries an example.

    Each row is a mapping of create_example's per-example arguments (``turns`` required; ``external_id``,
    ``domain``, ``split``, ``status``, ``tags``, ``metadata`` with its defaults). The same rules: turns
    normalised (a broken conversation refuses the whole batch), content hash, version 1, revision 1 by
    `author` with `note`. Returns the examples, saved, in the order of `rows`."""
    keys = {"turns", "external_id", "domain", "split", "status", "tags", "metadata"}
    examples, conversations = [], []
    for row in rows:
        unknown = set(row) - keys
        if unknown:
            raise TypeError(f"create_examples_bulk: unknown key(s) {', '.join(sorted(unknown))} in a row")
        texts = normalize_turns(row["turns"])
        examples.append(Example(
            source=source,
            external_id=row.get("external_id") or uuid.uuid4().hex,
            import_run=import_run,
            domain=row.get("domain", ""),
            status=row.get("status", Example.Status.CANDIDATE),
            split=row.get("split", Example.Split.UNASSIGNED),
            tags=list(row.get("tags", ())),
            metadata=row.get("metadata") or {},
            created_by=author,
            version=1,
            content_hash=content_hash(texts),
        ))
        conversations.append(texts)
    Example.objects.bulk_create(examples)
    Turn.objects.bulk_create(
        Turn(example=example, position=i, role=ROLES[i % 2], text=text)
        for example, texts in zip(examples, conversations) for i, text in enumerate(texts)
    )
    Revision.objects.bulk_create(
        new_revision(example, texts, author, note) for example, texts in zip(examples, conversations)
    )
    index_examples([(example.pk, example.content_hash, texts) for example, texts in zip(examples, conversations)])
    return examples


@transaction.atomic
def edit_example(
    example, *, expected_version, author, turns=None, status=None, split=None, domain=None, tags=None,
    metadata=None, note="edited",
):
    """Apply a change made against `expected_version`; raise StaleEdit if someone else got there first."""
    texts = normalize_turns(turns) if turns is not None else None
    example = lock_example(example)
    if example.version != expected_version:
        raise StaleEdit(example)
    example, _revision = _apply_edit(example, author=author, texts=texts, status=status, split=split, domain=domain,
                                     tags=tags, metadata=metadata, note=note)
    return example


def _apply_edit(example, *, author, texts=None, status=None, split=None, domain=None, tags=None, metadata=None,
                note="edited"):
    """The change on an example whose row the caller has locked and whose version it has checked:
    (the example, its new revision)."""
    example.version += 1
    if texts is None:
        texts = list(example.turns.values_list("text", flat=True))
    else:
        example.content_hash = content_hash(texts)
        _write_turns(example, texts)
    for field, value in (("status", status), ("split", split), ("domain", domain), ("metadata", metadata)):
        if value is not None:
            setattr(example, field, value)
    if tags is not None:
        example.tags = list(tags)
    example.save()
    return example, _record_revision(example, texts, author, note)


DECISION_STATUS = {
    Review.Decision.APPROVE: Example.Status.APPROVED,
    Review.Decision.REJECT: Example.Status.REJECTED,
    Review.Decision.NEEDS_EDIT: Example.Status.CANDIDATE,
}


@transaction.atomic
def review_example(example, *, reviewer, decision, reason="", comment="", expected_version=None, split=None):
    """Record a decision on the version the reviewer read (`expected_version`, else the one `example` holds);
    approving or rejecting moves the example's status (a new revision)."""
    if decision not in DECISION_STATUS:
        raise ValidationError({"decision": f"Unknown decision {decision!r}."})
    if decision == Review.Decision.REJECT and not reason:
        raise ValidationError({"reason": "A rejection needs a reason."})
    version = example.version if expected_version is None else expected_version
    example = lock_example(example)
    if example.version != version:
        raise StaleEdit(example)
    new_status = DECISION_STATUS[decision]
    if new_status != example.status or (split is not None and split != example.split):
        example, revision = _apply_edit(example, author=reviewer, status=new_status, split=split,
                                        note=review_note(decision, reason))
    else:
        revision = example.revisions.order_by("-number").first()
    return Review.objects.create(
        example=example, revision=revision, reviewer=reviewer, decision=decision, reason=reason, comment=comment
    )


@transaction.atomic
def revert_example(example, *, number, author, expected_version):
    """Bring back the content of revision `number`, as a new revision."""
    example = lock_example(example)
    old = example.revisions.filter(number=number).first()
    if old is None:
        raise ValidationError({"number": f"Example #{example.pk} has no revision r{number}."})
    return edit_example(
        example, expected_version=expected_version, author=author, turns=old.turns, status=old.status,
        split=old.split, domain=old.domain, tags=old.tags, note=f"reverted to r{number}",
    )


def delete_example(example):
    """Delete an example with its turns, revisions and reviews; ExampleGone if someone deleted it first,
    ExampleProtected while a frozen version pins it (a version being frozen at this moment too)."""
    pk = example.pk  # delete() clears it
    try:
        with transaction.atomic():
            example = lock_example(example)
            example.delete()
    except (ProtectedError, IntegrityError) as error:
        # ProtectedError: a version pins it; IntegrityError: a version freezing meanwhile pinned it first.
        raise ExampleProtected(pk) from error


def current_texts(pks):
    """{example id: LIMA's flat list of its current turns' texts} for `pks`, in two columns of one query."""
    texts = {pk: [] for pk in pks}
    rows = Turn.objects.filter(example_id__in=pks).order_by("example_id", "position").values_list("example_id", "text")
    for pk, text in rows:
        texts[pk].append(text)
    return texts
