"""Curation: where examples come from, the examples themselves, their history, reviews and frozen versions."""
from django.conf import settings
from django.db import models

from core.jobs.models import Job


def source_kinds():
    """Source.kind's choices: every source module declares its kind (curation.sources.plugins)."""
    from curation.sources.plugins import kind_choices

    return kind_choices()


class Source(models.Model):
    # The built-in kinds, by name; a source module added later needs no entry here.
    class Kind(models.TextChoices):
        STACKEXCHANGE = "stackexchange", "Stack Exchange"
        WIKIHOW = "wikihow", "wikiHow"
        REDDIT = "reddit", "Reddit (Pushshift)"
        NATURAL_INSTRUCTIONS = "natural_instructions", "Super-NaturalInstructions"
        MANUAL = "manual", "Hand-written"
        JSONL = "jsonl", "JSONL"

    kind = models.CharField(max_length=32, choices=source_kinds)
    name = models.CharField(max_length=200, help_text="e.g. cooking.stackexchange.com or r/WritingPrompts")
    licence = models.CharField(max_length=200, blank=True)
    url = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="source_kind_name_unique")]
        ordering = ["kind", "name"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.name}"


class ImportRun(Job):
    """One read of a source file: records parsed, cleaned, filtered and sampled into candidate examples.

    Progress: while reading, `done`/`total` are bytes of the input (times the parser's passes); while saving,
    examples saved of those selected."""

    noun = "import"
    progress_unit = "examples"
    reaped_note = " Nothing from this run was kept."

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="import_runs")
    file = models.CharField(max_length=1000, help_text="Path of the imported file or folder")
    file_sha256 = models.CharField(
        max_length=64, blank=True, db_index=True,
        help_text="sha256 of the file's content (of a folder: of its files' names and contents); the same content "
                  "imported again into the same source with the same options is not imported twice",
    )
    options = models.JSONField(default=dict, blank=True, help_text="seed, target and per-source options")
    read_count = models.PositiveIntegerField(default=0)
    accepted_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0, help_text="Selected, already there as imported")
    protected_count = models.PositiveIntegerField(
        default=0, help_text="Selected, but a person edited or reviewed the example: left alone"
    )
    rejected_by_reason = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True, help_text="What the parser noted of the file as a whole")
    parser_stats = models.JSONField(default=dict, blank=True, help_text="The parser's own counts")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Import #{self.pk} {self.source.name} ({self.status})"

    @property
    def progress_text(self):
        # While reading, done/total are bytes of the input: a percentage says more.
        return f"{self.percent}%" if self.phase == "reading" or not self.total else super().progress_text


class Example(models.Model):
    """One conversation. Its turns are the current content; every change leaves a Revision."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate"
        APPROVED = "approved"
        REJECTED = "rejected"

    class Split(models.TextChoices):
        TRAIN = "train"
        DEV = "dev"
        TEST = "test"
        UNASSIGNED = "unassigned"

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="examples")
    external_id = models.CharField(max_length=200, help_text="Id in the source; unique per source")
    import_run = models.ForeignKey(
        ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="examples",
        help_text="The import that created this example (lineage)",
    )
    domain = models.CharField(max_length=200, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE, db_index=True)
    split = models.CharField(max_length=16, choices=Split.choices, default=Split.UNASSIGNED, db_index=True)
    tags = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="Attribution: score, url, author, licence, ids")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1, help_text="Optimistic lock: bumped by every change")
    content_hash = models.CharField(max_length=64, db_index=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="example_external_id_unique_per_source")
        ]
        ordering = ["id"]

    def __str__(self):
        return f"Example #{self.pk} ({self.source.name} {self.external_id})"

    @property
    def conversation(self):
        """The turns' texts as LIMA's flat list, user first."""
        return [turn.text for turn in self.turns.all()]


class Turn(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="turns")
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=16, choices=Role.choices)
    text = models.TextField(help_text="Markdown")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["example", "position"], name="turn_position_unique")]
        ordering = ["example", "position"]

    def __str__(self):
        return f"{self.role} #{self.position} of example {self.example_id}"


class Revision(models.Model):
    """The full content of an example after one change: nothing is overwritten without a trace."""

    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(help_text="1 for the first content; equals the example's version")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        help_text="Empty when a program (an import) made the change",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=200, blank=True, help_text="What changed: created, edited, approved, reverted…")
    turns = models.JSONField(help_text="LIMA's flat list of texts, user first")
    status = models.CharField(max_length=16, choices=Example.Status.choices)
    split = models.CharField(max_length=16, choices=Example.Split.choices)
    domain = models.CharField(max_length=200, blank=True)
    tags = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["example", "number"], name="revision_number_unique")]
        ordering = ["example", "number"]
        indexes = [models.Index(fields=["example", "-number"])]

    def __str__(self):
        return f"r{self.number} of example {self.example_id}"


class Review(models.Model):
    class Decision(models.TextChoices):
        APPROVE = "approve"
        REJECT = "reject"
        NEEDS_EDIT = "needs_edit", "Needs edit"

    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="reviews")
    revision = models.ForeignKey(Revision, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.CharField(max_length=100, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.decision} by {self.reviewer} on example {self.example_id}"


class RejectedRecord(models.Model):
    """A record an import turned down, kept with its reason so that a person can look and rescue it."""

    import_run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="rejected_records")
    external_id = models.CharField(max_length=200)
    reason = models.CharField(max_length=100, db_index=True)
    turns = models.JSONField(default=list)
    domain = models.CharField(max_length=200, blank=True)
    split = models.CharField(max_length=16, choices=Example.Split.choices, default=Example.Split.UNASSIGNED)
    metadata = models.JSONField(default=dict, blank=True)
    location = models.CharField(max_length=200, blank=True, help_text="Where in the file: 'Posts.xml line 120'")
    rescued_as = models.ForeignKey(Example, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["import_run", "reason", "id"]
        indexes = [models.Index(fields=["import_run", "reason", "id"], name="rejected_run_reason_idx")]

    def __str__(self):
        return f"{self.external_id}: {self.reason}"


class DatasetVersion(models.Model):
    """A frozen selection of exact example revisions; later edits never change it."""

    class Status(models.TextChoices):
        FREEZING = "freezing"
        READY = "ready"
        FAILED = "failed"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FREEZING)
    selection = models.JSONField(default=dict, blank=True, help_text="The filters the version was frozen from")
    manifest = models.JSONField(default=dict, blank=True, help_text="Counts by source, domain, split; length stats")
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    example_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} (#{self.pk})"


class DatasetItem(models.Model):
    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="items")
    example = models.ForeignKey(Example, on_delete=models.PROTECT, related_name="dataset_items")
    revision = models.ForeignKey(Revision, on_delete=models.PROTECT, related_name="dataset_items")
    split = models.CharField(max_length=16, choices=Example.Split.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "example"], name="dataset_item_unique")]
        ordering = ["version", "id"]

    def __str__(self):
        return f"{self.version_id}: example {self.example_id} r{self.revision.number}"


class CompositionTarget(models.Model):
    """How many examples the dataset aims for in one split from one source group (the dashboard's targets).

    Rows override the defaults in curation.workspace.figures.LIMA_TARGETS (LIMA's Table 1); admins edit them.
    """

    split = models.CharField(max_length=16, choices=Example.Split.choices)
    bucket = models.CharField(max_length=32, help_text="Source group: se_stem, se_other, wikihow, hand_written…")
    target = models.PositiveIntegerField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["split", "bucket"], name="composition_target_unique")]
        ordering = ["split", "bucket"]

    def __str__(self):
        return f"{self.split}/{self.bucket}: {self.target}"


class ExportJob(Job):
    """A background export of a version to a file under MEDIA_ROOT, with progress (`done`/`total`: rows)."""

    noun = "export"
    progress_unit = "rows"

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="export_jobs")
    format = models.CharField(max_length=16)
    split = models.CharField(max_length=16, blank=True, help_text="Empty for every split")
    metadata = models.BooleanField(default=True, help_text="Lines carry id, split and attribution")
    file = models.CharField(max_length=500, blank=True, help_text="Path under MEDIA_ROOT once written")
    size_bytes = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Export #{self.pk} of {self.version_id} as {self.format} ({self.status})"


class FreezeJob(Job):
    """Freezing a big selection in the background (more than FREEZE_JOB_MIN_EXAMPLES examples); `version` is
    set once it is ready. Progress: examples pinned (`done`/`total`)."""

    noun = "freeze"
    progress_unit = "examples"
    reaped_note = " No version was kept."

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    selection = models.JSONField(default=dict, blank=True, help_text="The filters to freeze")
    version = models.OneToOneField(
        DatasetVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="freeze_job",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Freeze #{self.pk} {self.name} ({self.status})"


# Models that live with their feature: duplicate finding's signatures, clusters and job (curation/dedupe/);
# proposals (curation/proposals/); embeddings, quality scores and their runs (curation/signals/); the examples
# table's summaries, style checks and bulk actions (curation/workspace/).
from curation.dedupe.models import DedupeRun, DuplicateCluster, DuplicateMember, ExampleSignature  # noqa: E402, F401
from curation.proposals.models import Proposal  # noqa: E402, F401
from curation.signals.models import Embedding, Score, SignalRun, SignalShard  # noqa: E402, F401
from curation.workspace.models import BulkActionJob, ExampleSummary, StyleCheck  # noqa: E402, F401
