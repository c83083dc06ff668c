"""The one lifecycle of every long task: an abstract model that each kind of work inherits.

A job is a row created in the request; a worker claims it (queued -> running), beats while it works,
and ends it once: succeeded, failed with a cause a person can read, or cancelled. Nothing else writes
the status (core.jobs.runner, and the reaper for a job whose worker died).
"""
from django.db import models

from core.duration import duration_text
from core.labels import label


class Job(models.Model):
    class Status(models.TextChoices):  # the words are core.labels' (the API's enum descriptions show them)
        QUEUED = "queued", label("queued")
        RUNNING = "running", label("running")
        SUCCEEDED = "succeeded", label("succeeded")
        FAILED = "failed", label("failed")
        CANCELLED = "cancelled", label("cancelled")

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    phase = models.CharField(max_length=32, blank=True, help_text="What the job is doing now: reading, saving…")
    done = models.BigIntegerField(default=0, help_text="Progress: units done (records, rows, steps, prompts)")
    total = models.BigIntegerField(default=0, help_text="Progress: units in all; 0 while unknown")
    error = models.TextField(blank=True, help_text="Why it failed, in words a person understands")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="The worker's last sign of life")
    cancel_requested = models.BooleanField(default=False)
    worker_host = models.CharField(max_length=255, blank=True)
    worker_name = models.CharField(max_length=255, blank=True, help_text="Celery node name, e.g. gpu@host")
    attempt = models.PositiveIntegerField(default=0, help_text="1 for the first start, +1 for each start again")

    # What a person calls one of these ("import", "export"…), and what `done`/`total` count.
    noun = "job"
    progress_unit = ""

    class Meta:
        abstract = True

    @property
    def progress(self) -> float:
        """0.0 to 1.0 (0 while the total is unknown)."""
        if self.status == self.Status.SUCCEEDED:
            return 1.0
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def percent(self) -> int:
        return int(self.progress * 100)

    @property
    def progress_text(self) -> str:
        """"120 / 400 rows", or a percentage while the total is unknown."""
        if not self.total:
            return f"{self.percent}%"
        unit = f" {self.progress_unit}" if self.progress_unit else ""
        return f"{self.done:,} / {self.total:,}{unit}"

    @property
    def job_label(self):
        """The kind's name in URLs: "curation.importrun"."""
        return self._meta.label_lower

    @property
    def silent_seconds(self):
        """How long a running job has not beaten, when that is long enough to say so (else None)."""
        if self.status != self.Status.RUNNING or self.heartbeat_at is None:
            return None
        from django.conf import settings
        from django.utils import timezone

        silent = (timezone.now() - self.heartbeat_at).total_seconds()
        return silent if silent > max(10.0, 5 * settings.JOB_HEARTBEAT_SECONDS) else None

    @property
    def is_active(self):
        return self.status in self.ACTIVE

    @property
    def is_finished(self):
        return self.status in self.FINISHED

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def duration_text(self) -> str:
        """How long it ran, as people read it ("2 min 39 s"); "" until it has ended."""
        return duration_text(self.duration)

    @property
    def status_label(self) -> str:
        """The status in words (core.labels)."""
        return label(self.status)

    @property
    def phase_label(self) -> str:
        return label(self.phase)
