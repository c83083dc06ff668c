"""What a job's work sees of the lifecycle: progress to report, and whether to stop.

    def run_export(job, context):
        context.progress(0, total=rows, phase="writing")
        for done, chunk in enumerate(chunks, 1):
            context.check()              # raises Cancelled or Lost
            ...
            context.progress(done)

A thread beats every JOB_HEARTBEAT_SECONDS: it writes the heartbeat with whatever progress is pending, and
reads the cancel flag. A write that finds the job no longer running (the reaper failed it) marks it lost.
Inside a transaction (a job run in place by a test or a command in an atomic block) another connection
could neither see nor write the row, so the beats are written from the caller's thread, at its checks.
"""
from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

logger = logging.getLogger(__name__)


class Cancelled(Exception):
    """Someone asked the job to stop."""


class Lost(Exception):
    """The job is not this worker's any more: the reaper ended it (the worker looked dead) or it was started again."""


class JobFailed(Exception):
    """A failure whose message is meant for people as it is (an engine's own error, a refused input)."""


class JobContext:
    def __init__(self, job):
        self.job = job
        self.rows = type(job).objects.filter(pk=job.pk, status=job.Status.RUNNING, attempt=job.attempt)
        self.pending: dict = {}
        self.lock = threading.Lock()
        self.cancel_event = threading.Event()
        self.lost_event = threading.Event()
        self.stopping = threading.Event()
        self.thread = None
        self.last_beat = 0.0
        self.ended = False
        self.report = None  # a function giving fields to write at every beat (counts that change all along)

    # --- for the work ---------------------------------------------------------------------------------------
    def progress(self, done=None, *, total=None, phase=None, **fields):
        """Report progress (and any other fields of the job's row); written at the next beat."""
        if done is not None:
            fields["done"] = done
        if total is not None:
            fields["total"] = total
        if phase is not None:
            fields["phase"] = phase
        with self.lock:
            self.pending.update(fields)
        for name, value in fields.items():
            setattr(self.job, name, value)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    @property
    def lost(self) -> bool:
        return self.lost_event.is_set()

    def tick(self):
        """Beat from this thread when no thread beats (inside a transaction), at most once a beat interval."""
        if self.thread is None and time.monotonic() - self.last_beat >= settings.JOB_HEARTBEAT_SECONDS:
            self.beat()

    def check(self):
        """Raise Lost or Cancelled when the job must stop; call it between units of work."""
        self.tick()
        if self.lost:
            raise Lost
        if self.cancelled:
            raise Cancelled

    def flush(self):
        """Write what is pending now (before a step that holds the database, such as a long transaction)."""
        self.beat()

    def succeed(self, **fields):
        """Mark the job succeeded now, with `fields`: call it inside the transaction that commits the job's work,
        so that the work is kept exactly when the job says it succeeded (a worker killed before the commit
        leaves neither). Raises Lost when the job is no longer this worker's."""
        fields = {**(self.report() if self.report is not None else {}), **self.take_pending(), **fields}
        now = timezone.now()
        if not self.rows.update(status=self.job.Status.SUCCEEDED, finished_at=now, heartbeat_at=now, **fields):
            raise Lost
        self.ended = True  # nothing more to write for this attempt

    def final_fields(self) -> dict:
        """What is still to write when the attempt ends."""
        return {**(self.report() if self.report is not None else {}), **self.take_pending()}

    def take_pending(self) -> dict:
        with self.lock:
            pending, self.pending = self.pending, {}
        return pending

    # --- the heartbeat --------------------------------------------------------------------------------------
    def beat(self):
        if self.ended:
            return
        pending = self.take_pending()
        if self.report is not None:
            pending = {**self.report(), **pending}
        try:
            written = self.rows.update(heartbeat_at=timezone.now(), **pending)
            if not written:
                self.lost_event.set()
            elif type(self.job).objects.filter(pk=self.job.pk, cancel_requested=True).exists():
                self.cancel_event.set()
        except DatabaseError:  # SQLite busy, a lost connection: the next beat tries again
            logger.warning("%s #%s: heartbeat not written, will retry", self.job.noun, self.job.pk, exc_info=True)
            with self.lock:
                self.pending = {**pending, **self.pending}
        self.last_beat = time.monotonic()

    def _beat_forever(self):
        try:
            while not self.stopping.wait(settings.JOB_HEARTBEAT_SECONDS):
                self.beat()
        finally:
            close_old_connections()
            connection.close()

    def __enter__(self):
        if not connection.in_atomic_block:
            self.thread = threading.Thread(
                target=self._beat_forever, name=f"heartbeat-{self.job.noun}-{self.job.pk}", daemon=True
            )
            self.thread.start()
        return self

    def stop_beating(self):
        """Stop the heartbeat thread (before a transaction that must be the only writer, on SQLite)."""
        if self.thread is not None:
            self.stopping.set()
            self.thread.join(timeout=60)
            self.thread = None

    def __exit__(self, *exc_info):
        self.stop_beating()
        return False
