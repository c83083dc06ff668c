"""An ImportRun: stream -> clean -> filter -> sample -> upsert, with its progress written to the run.

The parsers (``curation.sources.<kind>``) do the cleaning and LIMA's filters and yield accepted and
rejected records; this module is the Django edge around them, in three phases:

1. **reading** - records stream in. Rejected ones are written as RejectedRecord rows: in batches, or
   on PostgreSQL through one COPY stream that the server stores while the parser reads on (they show
   on the run's page once the file is read; the counts move all along). Accepted ones are checked
   (``normalize_turns``) and spooled to a temporary file; only their id, domain and rank stay in
   memory, for the sampler.
2. **sampling** - ``curation.imports.sampling.select_records`` picks the selection (seeded; per-kind LIMA
   targets, ``target``/``tau`` options). Accepted records not picked become rejected "not_sampled",
   so a person can still rescue one.
3. **saving** - one transaction upserts the selection: new records are created
   (``services.create_examples_bulk``: three INSERTs a batch, example, turns, revision 1 "imported"); an
   example whose content, metadata, domain and split are unchanged is left untouched (no new
   revision); a changed one goes through ``services.edit_example`` (author None, note "re-import");
   an example a person edited (a Revision with an author) or reviewed is never overwritten.

A malformed file (``SourceFormatError``) or any other exception fails the run with a message
naming the file and the line or offset. Nothing of a failed run is left behind: the examples are
written in phase 3 only, in one transaction, and the run's rejected records are deleted.

Rejected records and DB writes on huge dumps: rejections decided from a score or a deletion alone
(``answer_score_below_10``, ``no_answer``, ``submission_removed``...) are the bulk of a real dump
(stackoverflow: ~24M questions, most below LIMA's score 10) and carry no response to rescue (the
Stack Exchange parser gives them ids and a link, no text). Of those, the first ``rejected_sample`` (default 100)
per reason are stored so a person can see what was turned down; the rest are only counted. Every
other rejection is stored in full. ``rejected_sample="all"`` stores everything.

Progress while reading is the byte position of the input files (read from the process's open files,
so it moves even while a parser makes a first pass that yields nothing); while saving, the examples
saved of those selected. The counts go with every heartbeat of the job (core.jobs): a run whose worker
died (killed, out of memory) stops beating and the reaper fails it after JOB_HEARTBEAT_TIMEOUT.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
import math
import os
import pickle
import tempfile
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils.text import get_valid_filename

from core.jobs.context import Cancelled, JobFailed, Lost
from core.jobs.kinds import job_kind
from core.jobs.runner import enqueue, execute
from curation.dedupe import signatures
from curation.dedupe.models import ExampleSignature
from curation.dedupe.text import exact_key, prompt_of, response_of
from curation.imports import clean_text, sampling
from curation.models import Example, ImportRun, RejectedRecord, Review, Revision
from curation.services import (
    StaleEdit,
    content_hash,
    create_example,
    create_examples_bulk,
    edit_example,
    get_or_create_source,
    normalize_turns,
)
from curation.sources import plugins
from curation.sources.records import Record, SourceFormatError, warn, warnings_of

logger = logging.getLogger(__name__)

REJECTED_BATCH = 1000  # RejectedRecord rows per INSERT
SAVE_BATCH = 200  # examples looked up together in the saving phase
DEFAULT_REJECTED_SAMPLE = 100
NOT_SAMPLED = sampling.NOT_SAMPLED
INVALID_CONVERSATION = "invalid_conversation"
DUPLICATE_RECORD = "duplicate_record"
EXACT_DUPLICATE = "exact_duplicate"  # another source has an example with the same normalised prompt or response

# Reasons decided without cleaning any text: counted, and only a sample of them stored (see above).
COUNT_ONLY_PREFIXES = ("answer_score_below_", "submission_score_below_", "comment_score_below_")
COUNT_ONLY_REASONS = frozenset({
    "no_answer", "no_top_level_comment", "submission_deleted", "submission_removed",
    "meta_site", "niche_site",  # decided from the site name alone: a meta dump has ~100k of them, with no text
})

# Keys of ImportRun.options read here; every other key is passed to the parser's iter_records.
RUN_OPTIONS = ("seed", "target", "tau", "within", "rejected_sample")


class ImportOptionError(ValueError):
    """Options or a path that an import cannot start with; nothing was created. `field` names the input at fault
    (None: the request as a whole)."""

    def __init__(self, message, field=None):
        self.field = field
        super().__init__(message)


class AlreadyImported(ImportOptionError):
    """The same content was already imported into the same source with the same options: nothing was created."""

    def __init__(self, run):
        self.run = run
        super().__init__(f"Already imported as run #{run.pk} ({run.source.name}, {Path(run.file).name}): "
                         "nothing new was created.", field="file")


def plan_for(kind):
    """The source plug-in of `kind` (curation.sources.plugins), if it can be imported."""
    try:
        plan = plugins.get(kind)
    except LookupError as error:
        raise ImportOptionError(str(error)) from None
    if not plan.importable:
        raise ImportOptionError(f"{plan.label} examples are written in the studio, not imported: "
                                f"choose one of {', '.join(plugins.importable_kinds())}.")
    return plan


def parser_for(kind):
    return plan_for(kind).module()


# --- Starting an import ---------------------------------------------------------------------------

def default_source_name(kind, path, options):
    """The Source a file belongs to when no name is given: the exchange site, the subreddits, ..."""
    return plan_for(kind).name_for(path, options)


def _parser_options(kind, options):
    """The options meant for the parser, checked against its signature so a typo fails now."""
    parameters = inspect.signature(parser_for(kind).iter_records).parameters
    known = [name for name, p in parameters.items() if p.kind == p.KEYWORD_ONLY and name != "stats"]
    wanted = {key: value for key, value in options.items() if key not in RUN_OPTIONS}
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ImportOptionError(
            f"Unknown option(s) {', '.join(unknown)} for {kind}: expected {', '.join(RUN_OPTIONS + tuple(known))}."
        )
    return wanted


def _check_run_options(options):
    seed = options.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ImportOptionError("seed must be an integer.")
    target = options.get("target")
    if target is not None and target != "all" and (isinstance(target, bool) or not isinstance(target, int) or target < 0):
        raise ImportOptionError('target must be a non-negative integer or "all".')
    tau = options.get("tau")
    if tau is not None and (isinstance(tau, bool) or not isinstance(tau, (int, float)) or tau <= 0):
        raise ImportOptionError("tau must be a positive number.")
    if options.get("within", "top") not in ("top", "random"):
        raise ImportOptionError('within must be "top" or "random".')
    sample = options.get("rejected_sample", DEFAULT_REJECTED_SAMPLE)
    if sample != "all" and (isinstance(sample, bool) or not isinstance(sample, int) or sample < 0):
        raise ImportOptionError('rejected_sample must be a non-negative integer or "all".')


def start_import(kind, path, *, name=None, options=None, user=None, run_async=True):
    """Create an ImportRun for `path` and run it: on the worker (`run_async`, queue "default") or here.

    Raises ImportOptionError (nothing created) for an unknown kind, a missing path or bad options;
    a malformed file is the run's business: it fails with the file and line in `error`.
    """
    options = dict(options or {})
    parser_for(kind)
    path = Path(path)
    if not path.exists():
        raise ImportOptionError(f"{path}: no such file or folder.")
    _check_run_options(options)
    parser_options = _parser_options(kind, options)
    if kind == "stackexchange" and name and "site" not in parser_options:
        # A bare Posts.xml says nothing of its site: the name given is the site.
        try:
            if len(parser_for(kind).find_posts_sources(path, require_site=False)) == 1:
                options["site"] = name
        except SourceFormatError:
            pass  # the run will fail on it, with the file named
    if not name:
        try:
            name = default_source_name(kind, path, options)
        except SourceFormatError:
            name = path.name  # the run will fail on it, with the file named
        except ValueError as exc:  # the file's name does not tell the source's: a person must
            raise ImportOptionError(f"name: {exc}", field="name") from None
    plan = plan_for(kind)
    digest = file_sha256(path)
    earlier = already_imported(kind, name[:200], digest, options)
    if earlier is not None:
        raise AlreadyImported(earlier)
    source = get_or_create_source(kind, name[:200], licence=plan.licence, url=plan.url)
    run = ImportRun.objects.create(
        source=source, file=str(path), file_sha256=digest, options=options,
        created_by=user if user and user.is_authenticated else None,
    )
    if run_async:
        return enqueue(run)
    return execute(run._meta.label_lower, run.pk)


def file_sha256(path):
    """sha256 of a file's content; of a folder, of each file's path inside it and content, in order (hidden
    files left out). About a second a gigabyte."""
    path = Path(path)
    if path.is_file():
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()
                        and not any(part.startswith(".") for part in p.relative_to(path).parts)):
        digest.update(f"{child.relative_to(path).as_posix()}\0{file_sha256(child)}\n".encode())
    return digest.hexdigest()


def already_imported(kind, name, digest, options):
    """The succeeded run that imported the same content into the source `kind`/`name` with the same options, if
    any: importing it again would change nothing (imports are deterministic for a seed)."""
    runs = ImportRun.objects.filter(
        source__kind=kind, source__name=name, file_sha256=digest, status=ImportRun.Status.SUCCEEDED,
    ).select_related("source").order_by("pk")
    return next((run for run in runs if run.options == options), None)


def save_upload(uploaded_file):
    """Keep an uploaded file as MEDIA_ROOT/imports/<sha256 of its content>/<its own name> (the name can tell the
    site, e.g. coffee.stackexchange.com.7z) and return its path: the same content lands in the same place."""
    root = Path(settings.MEDIA_ROOT) / "imports"
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=root, prefix=".upload-", delete=False) as out:
        try:
            for chunk in uploaded_file.chunks():
                digest.update(chunk)
                out.write(chunk)
        except BaseException:
            os.unlink(out.name)  # a broken upload leaves nothing behind
            raise
    folder = root / digest.hexdigest()
    folder.mkdir(exist_ok=True)
    path = folder / (get_valid_filename(Path(uploaded_file.name).name) or "upload")
    os.replace(out.name, path)  # atomic: a second upload of the same content replaces it with the same bytes
    return path


def summary(run):
    """The command's --json line: counts of one run."""
    return {
        "import_run": run.pk,
        "status": run.status,
        "read": run.read_count,
        "accepted": run.accepted_count,
        "created": run.created_count,
        "updated": run.updated_count,
        "unchanged": run.unchanged_count,
        "protected": run.protected_count,
        "rejected": dict(sorted(run.rejected_by_reason.items())),
        "error": run.error,
    }


def rescue_record(rejected_record, user):
    """Make a rejected record a candidate example (its reason kept in the metadata) and return it.

    Rescuing twice returns the same example; a record whose example already exists (an earlier import
    accepted it) is linked to it. Raises ValidationError when the record is no conversation (no turns)."""
    with transaction.atomic():
        record = (
            RejectedRecord.objects.select_for_update(of=("self",)).select_related("import_run__source", "rescued_as")
            .get(pk=rejected_record.pk)
        )
        if record.rescued_as is not None:
            return record.rescued_as
        run = record.import_run
        example = Example.objects.filter(source=run.source, external_id=record.external_id).first()
        if example is None:
            example = create_example(
                turns=record.turns, source=run.source, external_id=record.external_id, domain=record.domain,
                split=record.split,
                metadata={**record.metadata, "rescued_from": {"import_run": run.pk, "reason": record.reason}},
                author=user, import_run=run, note=f"rescued ({record.reason})",
            )
        record.rescued_as = example
        record.save(update_fields=["rescued_as"])
        return example


# --- Running an import ----------------------------------------------------------------------------

def discard_import(run):
    """A failed or cancelled run leaves nothing: its examples were never committed (they are written with its
    success, in one transaction), and its rejected records go."""
    RejectedRecord.objects.filter(import_run=run).delete()


@job_kind(ImportRun, queue="default", discard=discard_import, expected_errors=(SourceFormatError,))
def run_import(run, context):
    """The work of a claimed ImportRun (core.jobs.runner owns the claim, the heartbeat and the end)."""
    run = ImportRun.objects.select_related("source").get(pk=run.pk)
    tracker = _Tracker(run, context)
    context.report = tracker.fields
    try:
        _execute(run, tracker, context)
    except Exception as exc:
        tracker.saved.clear()  # nothing saved was kept: the saving transaction rolled back
        if isinstance(exc, (SourceFormatError, Cancelled, Lost)):
            raise
        logger.exception("import run %s failed", run.pk)
        where = f"; last record read: {tracker.location}" if tracker.location else ", before the first record"
        raise JobFailed(f"{type(exc).__name__}: {exc} (while importing {run.file}{where})") from exc
    if tracker.saved["created"] or tracker.saved["updated"]:
        from curation.dedupe.jobs import start_dedupe  # the new and changed examples' near-duplicates

        start_dedupe(f"import #{run.pk}")


def _execute(run, tracker, context):
    kind, options = run.source.kind, dict(run.options)
    plan = plan_for(kind)
    parser = plan.module()
    seed = options.get("seed", 0)
    parser_options = _parser_options(kind, options)
    rejected = _RejectedWriter(run, tracker, options.get("rejected_sample", DEFAULT_REJECTED_SAMPLE))
    candidates = []  # shells: (external_id, domain, rank) of accepted records, for the sampler
    seen = set()
    stats = Counter()  # the parser's own counts, and its warnings about the file as a whole
    cleaned = Counter()  # bad characters removed (clean_text)
    bad_characters = settings.IMPORT_BAD_CHARACTERS
    tracker.enter("reading")
    with tempfile.TemporaryFile(prefix="import-spool-") as spool:
        tracker.watch_files(plan.files_for(run.file, parser_options), plan.passes)
        # One COPY may stream while the heartbeat thread has the job row on a connection of its own.
        with rejected.streaming(context.thread is not None):
            for record in parser.iter_records(run.file, seed=seed, stats=stats, **parser_options):
                clean_text.clean_record(record, bad_characters, cleaned)
                tracker.location = record.location
                record.external_id = _fit_external_id(record.external_id)
                if record.reject_reason is None:
                    _check_conversation(record)
                if record.reject_reason is None and record.external_id in seen:
                    record.reject_reason = DUPLICATE_RECORD
                tracker.read += 1
                context.check()
                if record.reject_reason is not None:
                    rejected.add(record)
                    continue
                seen.add(record.external_id)
                pickle.dump(record, spool, protocol=pickle.HIGHEST_PROTOCOL)
                candidates.append(sampling.Candidate(record.external_id, record.domain, _rank(record)))
        del seen
        if clean_text.summary(cleaned, bad_characters):
            warn(stats, clean_text.summary(cleaned, bad_characters))
        stats.update({key: count for key, count in cleaned.items() if count})
        context.progress(warnings=warnings_of(stats), parser_stats=dict(stats))

        tracker.enter("sampling")
        selected = _select(plan, options, candidates, seed)
        del candidates

        tracker.enter("saving", total=len(selected))
        spool.seek(0)
        if connection.vendor == "sqlite":
            context.stop_beating()  # SQLite has one writer: the saving transaction (it beats from here)
        with transaction.atomic():
            signatures.update_stale()  # the exact keys of every example, for _skip_exact_duplicates
            _save(run, _spooled(spool), selected, rejected, tracker, context)
            rejected.flush()
            # The success is written in the same transaction as the examples: a run is never left
            # "running" with examples kept (what the reaper says of a run whose worker died).
            context.succeed(phase="done")


def _select(plan, options, candidates, seed):
    """External ids of the accepted records that will become examples."""
    target = options.get("target")
    targets = plan.targets
    if target == "all" or (target is None and targets is None):
        return {candidate.key for candidate in candidates}
    if target is not None:  # a target per group (Stack Exchange: STEM and other each get it)
        targets = {group: target for group in targets} if isinstance(targets, dict) else target
    # Light records made one at a time from the candidates: the sampler needs ids, domains and ranks only.
    shells = (
        Record(candidate.key, [], candidate.domain, {"rank": candidate.rank}) for candidate in candidates
    )
    return sampling.select_records(
        shells, targets=targets, rank_of=lambda record: record.metadata["rank"],
        tau=options["tau"] if "tau" in options else plan.tau, seed=seed,
        within=options.get("within", plan.within),
    )


def _save(run, records, selected, rejected, tracker, context):
    batch = []
    for record in records:
        if record.external_id in selected:
            batch.append(record)
            if len(batch) >= SAVE_BATCH:
                _upsert(run, batch, tracker, rejected)
                context.check()
                batch = []
        else:
            record.reject_reason = NOT_SAMPLED
            rejected.add(record)
    if batch:
        _upsert(run, batch, tracker, rejected)
        context.check()


def _upsert(run, records, tracker, rejected):
    source = run.source
    existing = {
        example.external_id: example
        for example in Example.objects.filter(source=source, external_id__in=[r.external_id for r in records])
    }
    ids = [example.pk for example in existing.values()]
    touched_by_people = set(
        Revision.objects.filter(example_id__in=ids, author__isnull=False).values_list("example_id", flat=True)
    ) | set(Review.objects.filter(example_id__in=ids).values_list("example_id", flat=True))
    new = []
    for record in records:
        metadata = _json_safe(record.metadata)
        example = existing.get(record.external_id)
        if example is None:
            new.append((record, metadata))
        elif example.pk in touched_by_people:
            tracker.count("protected")
        elif (
            example.content_hash == content_hash(record.turns) and example.metadata == metadata
            and example.domain == record.domain[:200] and example.split == record.split
        ):
            tracker.count("unchanged")
        else:
            try:
                edit_example(
                    example, expected_version=example.version, author=None, turns=record.turns,
                    domain=record.domain[:200], split=record.split, metadata=metadata, note="re-import",
                )
                tracker.count("updated")
            except StaleEdit:  # someone edited it while we were reading: theirs stands
                tracker.count("protected")
    new = _skip_exact_duplicates(run, new, rejected)
    _create_examples(run, new)
    for _ in new:
        tracker.count("created")


def _skip_exact_duplicates(run, new, rejected):
    """The new records whose normalised prompt and response are in no other source's example; the others are
    rejected as EXACT_DUPLICATE naming the example they repeat (metadata "duplicate_of", "duplicate_kind"), so
    the same text is never an example twice (a person can still rescue it)."""
    keys = [(exact_key(prompt_of(record.turns)), exact_key(response_of(record.turns))) for record, _ in new]
    prompts = {p for p, _ in keys if p}
    responses = {r for _, r in keys if r}
    if not (prompts or responses):
        return new
    by_prompt, by_response = {}, {}
    for example_id, prompt, response in (
        ExampleSignature.objects.filter(Q(prompt_key__in=prompts) | Q(response_key__in=responses))
        .exclude(example__source=run.source).filter(content_hash=F("example__content_hash"))
        .order_by("example_id").values_list("example_id", "prompt_key", "response_key")
    ):
        by_prompt.setdefault(prompt, example_id)
        by_response.setdefault(response, example_id)
    kept = []
    for (record, metadata), (prompt, response) in zip(new, keys):
        found = ("response", by_response.get(response)) if response and response in by_response else (
            ("prompt", by_prompt.get(prompt)) if prompt and prompt in by_prompt else (None, None))
        if found[0] is None:
            kept.append((record, metadata))
            continue
        record.reject_reason = EXACT_DUPLICATE
        record.metadata = {**metadata, "duplicate_of": found[1], "duplicate_kind": found[0]}
        rejected.add(record)
    return kept


def _create_examples(run, records):
    create_examples_bulk(
        (
            {"turns": record.turns, "external_id": record.external_id, "domain": record.domain[:200],
             "split": record.split, "metadata": metadata}
            for record, metadata in records
        ),
        source=run.source, import_run=run, author=None, note="imported",
    )


# --- Records --------------------------------------------------------------------------------------

def _check_conversation(record):
    try:
        record.turns = normalize_turns(record.turns)
    except ValidationError:
        record.reject_reason = INVALID_CONVERSATION


def _fit_external_id(external_id):
    external_id = str(external_id)
    if len(external_id) <= 200:
        return external_id
    # Example.external_id holds 200 characters; a hash keeps long ids distinct and stable.
    return f"{external_id[:150]}~{content_hash([external_id])[:40]}"


def _rank(record):
    """Higher is drawn first within a domain (LIMA: the highest-scoring questions)."""
    value = record.metadata.get("question_score", record.metadata.get("score", 0))
    try:
        value = float(value or 0)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def _json_safe(value):
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _spooled(spool):
    while True:
        try:
            yield pickle.load(spool)
        except EOFError:
            return


class _RejectedWriter:
    """RejectedRecord rows in batches; count-only reasons beyond the sample are just counted.

    Rows wait as plain tuples with their JSON already encoded: a dump's rejections run to millions, and a
    model instance per row would cost more than writing it."""

    def __init__(self, run, tracker, sample):
        self.run, self.tracker, self.sample = run, tracker, sample
        self.stored = Counter()
        self.pending = []
        self.postgresql = connection.vendor == "postgresql"
        self.stream = None

    @contextmanager
    def streaming(self, allowed=True):
        """On PostgreSQL, one COPY for the whole block, fed row by row, so the server stores rows while the
        parser reads on. Nothing else may use the connection meanwhile (`allowed` is False when the progress
        is written from this thread). A failure aborts the COPY: none of the block's rows are kept. Elsewhere,
        rows go in batches.

        (psycopg sends each 32 kB of rows as it fills. Its writer thread, tried too, was no faster and made
        the reading thread wait for the GIL at every block on a loaded machine.)"""
        if not (self.postgresql and allowed):
            yield
            self.flush()
            return
        with connection.cursor() as cursor:
            with cursor.cursor.copy(_COPY_REJECTED) as stream:
                self.stream = stream
                try:
                    yield
                finally:
                    self.stream = None

    def add(self, record):
        reason = record.reject_reason[:100]
        self.tracker.count_rejected(reason)
        if self.sample != "all" and self.stored[reason] >= self.sample and is_count_only(reason):
            return
        self.stored[reason] += 1
        row = (
            self.run.pk,
            record.external_id,
            reason,
            _json_text(list(record.turns)),
            record.domain[:200],
            record.split if record.split in _SPLITS else Example.Split.UNASSIGNED,
            _json_text(record.metadata),
            record.location[-200:],
        )
        if self.stream is not None:
            self.stream.write_row(row)
            return
        self.pending.append(row)
        if len(self.pending) >= REJECTED_BATCH:
            self.flush()

    def flush(self):
        if not self.pending:
            return
        if self.postgresql:
            with connection.cursor() as cursor, cursor.cursor.copy(_COPY_REJECTED) as copy:
                for row in self.pending:
                    copy.write_row(row)
        else:
            RejectedRecord.objects.bulk_create(
                RejectedRecord(
                    import_run_id=run_pk, external_id=external_id, reason=reason, turns=json.loads(turns),
                    domain=domain, split=split, metadata=json.loads(metadata), location=location,
                )
                for run_pk, external_id, reason, turns, domain, split, metadata, location in self.pending
            )
        self.pending = []


_SPLITS = frozenset(Example.Split.values)
# COPY writes RejectedRecord rows about 3x faster than a multi-row INSERT for rows of a few kB of JSON,
# which is what a dump's rejected answers are.
_COPY_REJECTED = (
    f"COPY {RejectedRecord._meta.db_table} "
    "(import_run_id, external_id, reason, turns, domain, split, metadata, location) FROM STDIN"
)


_json_text = json.JSONEncoder(ensure_ascii=False, default=str).encode  # json.dumps's, built once


def is_count_only(reason):
    return reason in COUNT_ONLY_REASONS or reason.startswith(COUNT_ONLY_PREFIXES)


# --- Progress -------------------------------------------------------------------------------------

@dataclass
class _FileState:
    size: int
    position: int = 0
    passes_done: int = 0
    open: bool = False


@dataclass
class _BytesRead:
    """How far the parser is through its input files, from the process's open file positions."""

    files: dict = field(default_factory=dict)
    passes: int = 1

    def done_and_total(self):
        """(bytes read, bytes to read) over every pass, or None when it cannot be told."""
        if not self.files:
            return None
        try:
            import psutil

            positions = {f.path: f.position for f in psutil.Process().open_files()}
        except Exception:
            return None
        for path, state in self.files.items():
            position = positions.get(path)
            if position is None:
                if state.open:  # closed since we looked: that pass is over
                    state.passes_done, state.position, state.open = state.passes_done + 1, 0, False
                continue
            if state.open and position < state.position:  # reopened for another pass
                state.passes_done += 1
            state.position, state.open = position, True
        total = sum(state.size for state in self.files.values()) * self.passes
        done = sum(min(state.passes_done, self.passes) * state.size + state.position for state in self.files.values())
        return (min(done, total), total) if total else None


class _Tracker:
    """The run's counts and progress, written with each heartbeat of the job (JobContext.report)."""

    def __init__(self, run, context):
        self.run = run
        self.context = context
        self.read = 0
        self.rejected = Counter()
        self.saved = Counter()
        self.location = ""
        self.bytes = _BytesRead()
        self.phase = ""
        self.to_save = 0
        self.lock = threading.Lock()

    def watch_files(self, paths, passes):
        files = {}
        for path in paths:
            try:
                files[str(Path(path).resolve())] = _FileState(size=Path(path).stat().st_size)
            except OSError:
                pass
        self.bytes = _BytesRead(files, passes)

    def enter(self, phase, total=0):
        with self.lock:
            self.phase, self.to_save = phase, total
        self.context.flush()
        self.context.check()

    def count_rejected(self, reason):
        with self.lock:
            self.rejected[reason] += 1

    def count(self, what):
        self.saved[what] += 1

    def fields(self):
        with self.lock:
            rejected = dict(self.rejected)
            phase, to_save = self.phase, self.to_save
        saved = sum(self.saved.values())
        values = {
            "phase": phase,
            "read_count": self.read,
            "rejected_count": sum(rejected.values()),
            "rejected_by_reason": rejected,
            "accepted_count": saved,
            "created_count": self.saved["created"],
            "updated_count": self.saved["updated"],
            "unchanged_count": self.saved["unchanged"],
            "protected_count": self.saved["protected"],
        }
        if phase == "reading":
            position = self.bytes.done_and_total()
            if position is not None:
                values["done"], values["total"] = position
        elif phase == "saving":
            values["done"], values["total"] = saved, to_save
        return values
