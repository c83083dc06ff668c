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
so it moves even while a parser makes a first pass that yields nothing), written with the counts
and a heartbeat about once a second. A run whose worker died (killed, out of memory) stops beating:
``reap_dead_runs``, called by the imports pages and API, fails it after ``IMPORT_HEARTBEAT_TIMEOUT``.
"""
from __future__ import annotations

import importlib
import inspect
import json
import logging
import math
import pickle
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from curation.imports import sampling
from curation.models import Example, ImportRun, RejectedRecord, Review, Revision, Source
from curation.services import (
    StaleEdit,
    content_hash,
    create_example,
    create_examples_bulk,
    edit_example,
    get_or_create_source,
    normalize_turns,
)
from curation.sources.records import Record, SourceFormatError

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
DEFAULT_HEARTBEAT_TIMEOUT = 120.0  # seconds without a heartbeat before a running run is reaped
REJECTED_BATCH = 1000  # RejectedRecord rows per INSERT
SAVE_BATCH = 200  # examples looked up together in the saving phase
DEFAULT_REJECTED_SAMPLE = 100
NOT_SAMPLED = sampling.NOT_SAMPLED
INVALID_CONVERSATION = "invalid_conversation"
DUPLICATE_RECORD = "duplicate_record"
READING_SHARE = 0.9  # of the progress bar; sampling and saving take the rest

# Reasons decided without cleaning any text: counted, and only a sample of them stored (see above).
COUNT_ONLY_PREFIXES = ("answer_score_below_", "submission_score_below_", "comment_score_below_")
COUNT_ONLY_REASONS = frozenset({"no_answer", "no_top_level_comment", "submission_deleted", "submission_removed"})

# Keys of ImportRun.options read here; every other key is passed to the parser's iter_records.
RUN_OPTIONS = ("seed", "target", "tau", "within", "rejected_sample")


@dataclass(frozen=True)
class KindPlan:
    """How one Source kind is read and sampled."""

    module: str
    # Default sampling: a target per group (groups from stem_sites.toml), one target, or None to keep
    # every accepted record (sources people choose from by hand, and ready-made conversation files).
    targets: int | dict | None
    tau: float | None = sampling.DEFAULT_TAU
    within: str = "top"  # within a domain: best-ranked first, or at random
    passes: int = 1  # how many times the parser reads its input (for the progress bar)
    licence: str = ""
    url: str = ""
    default_name: str = ""


PLANS = {
    # LIMA.md: 200 STEM + 200 other, across exchanges with tau = 3, highest-scoring questions first.
    Source.Kind.STACKEXCHANGE: KindPlan(
        "curation.sources.stackexchange", dict(sampling.STACKEXCHANGE_TARGETS), passes=2, licence="CC BY-SA", url="https://archive.org/details/stackexchange",
    ),
    # LIMA.md: 200 articles, "first draw one of 19 categories, then an article in it" (uniform).
    Source.Kind.WIKIHOW: KindPlan(
        "curation.sources.wikihow", 200, tau=None, within="random", licence="CC BY-NC-SA 3.0",
        url="https://www.wikihow.com", default_name="wikiHow",
    ),
    # LIMA.md: chosen by hand among the most upvoted posts: every accepted one is a candidate.
    Source.Kind.REDDIT: KindPlan(
        "curation.sources.reddit", None, licence="Reddit user content", url="https://files.pushshift.io/reddit/",
    ),
    # LIMA.md: 50 generation tasks, one random instance each.
    Source.Kind.NATURAL_INSTRUCTIONS: KindPlan(
        "curation.sources.natural_instructions", 50, tau=None, within="random", licence="Apache-2.0",
        url="https://github.com/allenai/natural-instructions", default_name="Super-NaturalInstructions",
    ),
    Source.Kind.JSONL: KindPlan("curation.sources.jsonl", None, within="random"),
}
KINDS = tuple(PLANS)


class ImportOptionError(ValueError):
    """Options or a path that an import cannot start with; nothing was created."""


def parser_for(kind):
    if kind not in PLANS:
        raise ImportOptionError(f"Unknown source kind {kind!r}: expected one of {', '.join(KINDS)}.")
    return importlib.import_module(PLANS[kind].module)


# --- Starting an import ---------------------------------------------------------------------------

def default_source_name(kind, path, options):
    """The Source a file belongs to when no name is given: the exchange site, the subreddits, ..."""
    plan, path = PLANS[kind], Path(path)
    if kind == Source.Kind.STACKEXCHANGE:
        sites = {posts.site for posts in parser_for(kind).find_posts_sources(path, options.get("site"))}
        return sites.pop() if len(sites) == 1 else path.name
    if kind == Source.Kind.REDDIT:
        subreddits = options.get("subreddits") or parser_for(kind).DEFAULT_SUBREDDITS
        if isinstance(subreddits, str):
            subreddits = [subreddits]
        return ", ".join(f"r/{name.removeprefix('r/')}" for name in subreddits)
    return plan.default_name or path.name


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
    if kind == Source.Kind.STACKEXCHANGE and name and "site" not in parser_options:
        # A bare Posts.xml says nothing of its site: the name given is the site.
        try:
            if len(parser_for(kind).find_posts_sources(path)) == 1:
                options["site"] = name
        except SourceFormatError:
            pass  # the run will fail on it, with the file named
    if not name:
        try:
            name = default_source_name(kind, path, options)
        except (SourceFormatError, ValueError):
            name = path.name
    plan = PLANS[kind]
    source = get_or_create_source(kind, name[:200], licence=plan.licence, url=plan.url)
    run = ImportRun.objects.create(
        source=source, file=str(path), options=options, created_by=user if user and user.is_authenticated else None,
    )
    if run_async:
        transaction.on_commit(lambda: _enqueue(run.pk))
        return run
    return run_import(run)


def _enqueue(run_pk):
    from curation.tasks import run_import as run_import_task

    try:
        run_import_task.apply_async(args=[run_pk], queue="default")
    except Exception as exc:  # the broker is down: say so on the run rather than leave it queued forever
        logger.exception("could not enqueue import run %s", run_pk)
        ImportRun.objects.filter(pk=run_pk, status=ImportRun.Status.QUEUED).update(
            status=ImportRun.Status.FAILED, phase="failed", finished_at=timezone.now(),
            error=f"Could not hand the import to the worker: {exc}",
        )


def save_upload(uploaded_file):
    """Keep an uploaded file under MEDIA_ROOT/imports/<random>/<its own name> (the name can tell the
    site, e.g. coffee.stackexchange.com.7z) and return its path."""
    folder = Path(settings.MEDIA_ROOT) / "imports" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (get_valid_filename(Path(uploaded_file.name).name) or "upload")
    with open(path, "wb") as out:
        for chunk in uploaded_file.chunks():
            out.write(chunk)
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

def run_import(import_run):
    """Execute a queued ImportRun to the end (succeeded or failed) and return it refreshed.

    Claims the run atomically: a run that is not queued any more (another worker has it) is returned
    as it is."""
    now = timezone.now()
    claimed = ImportRun.objects.filter(pk=import_run.pk, status=ImportRun.Status.QUEUED).update(
        status=ImportRun.Status.RUNNING, phase="reading", started_at=now, heartbeat_at=now, error="",
    )
    run = ImportRun.objects.select_related("source").get(pk=import_run.pk)
    if claimed != 1:
        return run
    tracker = _Tracker(run)
    try:
        with tracker:
            _execute(run, tracker)
    except _Reaped:
        # reap_dead_runs failed this run while this worker was silent: its verdict stands, and whatever
        # this worker wrote since (rejected records) goes too.
        logger.warning("import run %s was reaped while still running; its work is dropped", run.pk)
        RejectedRecord.objects.filter(import_run=run).delete()
    except Exception as exc:
        _fail(run, tracker, exc)
    run.refresh_from_db()
    return run


def _execute(run, tracker):
    kind, options = run.source.kind, dict(run.options)
    plan = PLANS[kind]
    parser = parser_for(kind)
    seed = options.get("seed", 0)
    parser_options = _parser_options(kind, options)
    rejected = _RejectedWriter(run, tracker, options.get("rejected_sample", DEFAULT_REJECTED_SAMPLE))
    candidates = []  # shells: (external_id, domain, rank) of accepted records, for the sampler
    seen = set()
    with tempfile.TemporaryFile(prefix="import-spool-") as spool:
        tracker.watch_files(_input_files(kind, run.file, parser_options), plan.passes)
        with rejected.streaming(tracker.thread is not None):
            for record in parser.iter_records(run.file, seed=seed, **parser_options):
                tracker.location = record.location
                record.external_id = _fit_external_id(record.external_id)
                if record.reject_reason is None:
                    _check_conversation(record)
                if record.reject_reason is None and record.external_id in seen:
                    record.reject_reason = DUPLICATE_RECORD
                tracker.count_read()
                if record.reject_reason is not None:
                    rejected.add(record)
                    continue
                seen.add(record.external_id)
                pickle.dump(record, spool, protocol=pickle.HIGHEST_PROTOCOL)
                candidates.append(sampling.Candidate(record.external_id, record.domain, _rank(record)))
        del seen

        tracker.enter("sampling", progress=READING_SHARE)
        selected = _select(plan, options, candidates, seed)
        del candidates

        tracker.enter("saving")
        spool.seek(0)
        sqlite = connection.vendor == "sqlite"
        if sqlite:
            tracker.stop_heartbeats()  # SQLite has one writer: the saving transaction
        with transaction.atomic():
            if sqlite:
                # Take the write lock first: a transaction that reads, then writes, is refused at once
                # ("database is locked") when another connection wrote in between.
                if not ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.RUNNING).update(
                        heartbeat_at=timezone.now()):
                    raise _Reaped
            _save(run, _spooled(spool), selected, rejected, tracker)
            rejected.flush()
            # The success is written in the same transaction as the examples: a run is never left
            # "running" with examples kept (what reap_dead_runs says of a run whose worker died).
            if not tracker.enter("done", status=ImportRun.Status.SUCCEEDED, progress=1.0, finished_at=timezone.now()):
                raise _Reaped


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


def _save(run, records, selected, rejected, tracker):
    batch = []
    for record in records:
        if record.external_id in selected:
            batch.append(record)
            if len(batch) >= SAVE_BATCH:
                _upsert(run, batch, tracker)
                batch = []
        else:
            record.reject_reason = NOT_SAMPLED
            rejected.add(record)
    if batch:
        _upsert(run, batch, tracker)


def _upsert(run, records, tracker):
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
    _create_examples(run, new)
    for _ in new:
        tracker.count("created")


def _create_examples(run, records):
    create_examples_bulk(
        (
            {"turns": record.turns, "external_id": record.external_id, "domain": record.domain[:200],
             "split": record.split, "metadata": metadata}
            for record, metadata in records
        ),
        source=run.source, import_run=run, author=None, note="imported",
    )


def _fail(run, tracker, exc):
    if isinstance(exc, SourceFormatError):
        message = str(exc)
    else:
        logger.exception("import run %s failed", run.pk)
        where = f"; last record read: {tracker.location}" if tracker.location else ", before the first record"
        message = f"{type(exc).__name__}: {exc} (while importing {run.file}{where})"
    # Nothing half-written: the examples were never committed; the rejected records go too.
    RejectedRecord.objects.filter(import_run=run).delete()
    tracker.saved.clear()
    tracker.enter("failed", status=ImportRun.Status.FAILED, finished_at=timezone.now(), error=message)


class _Reaped(Exception):
    """reap_dead_runs marked this run failed while its worker was still at it."""


def reap_dead_runs(*, limit=None, now=None):
    """Fail every running ImportRun whose worker stopped beating (its heartbeat, or its start if it never
    beat, older than `limit` seconds: setting IMPORT_HEARTBEAT_TIMEOUT, default 120), and delete its rejected
    records, as a failed run leaves none. Its examples need no deleting: they are only ever committed with
    the run's success, in one transaction (see _execute). Returns the runs reaped.

    A worker that was only slow finds its run failed at its next heartbeat or at the end, drops its work and
    leaves the reaper's verdict as it is."""
    now = now or timezone.now()
    if limit is None:
        limit = getattr(settings, "IMPORT_HEARTBEAT_TIMEOUT", DEFAULT_HEARTBEAT_TIMEOUT)
    cutoff = now - timedelta(seconds=limit)
    running = ImportRun.objects.filter(status=ImportRun.Status.RUNNING)
    stale = list(running.filter(heartbeat_at__lt=cutoff)) + list(
        running.filter(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    reaped = []
    for run in stale:
        last = (run.heartbeat_at or run.started_at).astimezone(dt_timezone.utc)
        cause = (
            f"The worker stopped sending heartbeats at {last:%Y-%m-%d %H:%M:%S} UTC (limit {limit:g} s): it "
            "died or lost the database; nothing from this run was kept."
        )
        try:
            with transaction.atomic():
                # Only if it did not beat (or end) since we looked.
                updated = ImportRun.objects.filter(
                    pk=run.pk, status=ImportRun.Status.RUNNING, heartbeat_at=run.heartbeat_at,
                ).update(status=ImportRun.Status.FAILED, phase="failed", finished_at=now, error=cause)
                if updated:
                    RejectedRecord.objects.filter(import_run=run).delete()
        except OperationalError:  # SQLite: its worker holds the write lock, saving: it is alive
            logger.info("import run %s looks stale but its database is busy: not reaped", run.pk)
            continue
        if updated:
            logger.warning("import run %s reaped: %s", run.pk, cause)
            reaped.append(run)
    return reaped


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


def _input_files(kind, path, parser_options):
    """The files a parser will read, for the byte-position progress."""
    path = Path(path)
    if kind == Source.Kind.STACKEXCHANGE:
        try:
            sources = parser_for(kind).find_posts_sources(path, parser_options.get("site"))
        except (SourceFormatError, ValueError):
            return []
        return sorted({posts.path for posts in sources})
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return []


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

    def fraction(self):
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
        return min(done / total, 1.0) if total else None


class _Tracker:
    """The run's counts, written to its row about once a second with a heartbeat.

    The writes come from a thread when the caller holds no transaction, so the row moves even while a
    parser reads for an hour before its first record; inside a transaction (tests) another connection
    could neither see the run nor write it, so the main thread writes between records instead."""

    def __init__(self, run):
        self.run = run
        self.read = 0
        self.rejected = Counter()
        self.saved = Counter()
        self.location = ""
        self.bytes = _BytesRead()
        self.phase = "reading"
        self.lock = threading.Lock()
        self.last_write = 0.0
        self.stop = threading.Event()
        self.thread = None
        self.reaped = False  # set by a write that finds the run no longer running

    def __enter__(self):
        if not connection.in_atomic_block:
            self.thread = threading.Thread(target=self._beat, name=f"import-run-{self.run.pk}", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop_heartbeats()
        return False

    def stop_heartbeats(self):
        if self.thread is not None:
            self.stop.set()
            self.thread.join(timeout=30)
            self.thread = None

    def watch_files(self, paths, passes):
        files = {}
        for path in paths:
            try:
                files[str(Path(path).resolve())] = _FileState(size=Path(path).stat().st_size)
            except OSError:
                pass
        self.bytes = _BytesRead(files, passes)

    def enter(self, phase, **fields):
        """Write the new phase (and `fields`); the number of rows written: 0 once the run is not running."""
        with self.lock:
            self.phase = phase
        return self.write(phase=phase, **fields)

    def count_read(self):
        self.read += 1
        if self.thread is None and time.monotonic() - self.last_write >= HEARTBEAT_SECONDS:
            self.write()
        if self.reaped:
            raise _Reaped

    def count_rejected(self, reason):
        with self.lock:
            self.rejected[reason] += 1

    def count(self, what):
        self.saved[what] += 1

    def _beat(self):
        try:
            while not self.stop.wait(HEARTBEAT_SECONDS):
                try:
                    self.write()
                except Exception:
                    logger.warning("import run %s: heartbeat not written", self.run.pk, exc_info=True)
        finally:
            close_old_connections()
            connection.close()

    def write(self, **fields):
        with self.lock:
            rejected = dict(self.rejected)
            phase = self.phase
        values = {
            "read_count": self.read,
            "rejected_count": sum(rejected.values()),
            "rejected_by_reason": rejected,
            "accepted_count": sum(self.saved.values()),
            "created_count": self.saved["created"],
            "updated_count": self.saved["updated"],
            "unchanged_count": self.saved["unchanged"],
            "protected_count": self.saved["protected"],
            "heartbeat_at": timezone.now(),
        }
        rows = ImportRun.objects.filter(pk=self.run.pk)
        if phase == "reading" and "phase" not in fields:
            fraction = self.bytes.fraction()
            if fraction is not None:
                values["progress"] = round(min(fraction, 0.999) * READING_SHARE, 4)
            # A heartbeat computed just before the main thread moved on must not undo the new phase.
            rows = rows.filter(phase="reading")
        values.update(fields)
        updated = rows.filter(status=ImportRun.Status.RUNNING).update(**values)
        self.last_write = time.monotonic()
        if not updated and not ImportRun.objects.filter(pk=self.run.pk, status=ImportRun.Status.RUNNING).exists():
            self.reaped = True  # (no row updated can also be a phase that moved on meanwhile)
        return updated
