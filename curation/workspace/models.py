"""What the examples table (/examples/) keeps beside each example, and its bulk actions as jobs.

Imported at the end of curation/models.py, so these are models of the `curation` app.
"""
from django.conf import settings
from django.db import models

from core.jobs.models import Job


class ExampleSummary(models.Model):
    """The table's facts of an example's current text (its turns), written by the services with every change of
    the turns (curation.workspace.search.index_examples), in the same transaction.

    The full-text index lives beside it, per database (migration 0008): on PostgreSQL a `document` tsvector
    column of this table with a GIN index (prompts weighted A, responses B); on SQLite the FTS5 table
    `curation_examplesearch` (rowid = example id), whose rows a trigger removes with this table's. Neither is a
    model field, so the ORM never reads them; curation.workspace.search is the only code that does.
    """

    example = models.OneToOneField("curation.Example", on_delete=models.CASCADE, primary_key=True, related_name="summary")
    content_hash = models.CharField(max_length=64, help_text="Of the text summarised: equals the example's when in step")
    first_line = models.CharField(max_length=200, help_text="The prompt's first non-empty line, cut at 200 characters")
    prompt_chars = models.PositiveIntegerField(help_text="Characters of the user's turns")
    prompt_tokens = models.PositiveIntegerField(help_text="Estimated tokens of the user's turns (four characters a token)")
    response_chars = models.PositiveIntegerField(help_text="Characters of the assistant's turns")
    response_tokens = models.PositiveIntegerField()
    turn_count = models.PositiveSmallIntegerField()

    class Meta:
        # Sorting the table by a length walks one of these, (value, id), as keyset pagination wants.
        indexes = [
            models.Index(fields=["prompt_chars", "example"], name="summary_prompt_chars_idx"),
            models.Index(fields=["response_chars", "example"], name="summary_response_chars_idx"),
            models.Index(fields=["turn_count", "example"], name="summary_turn_count_idx"),
        ]

    def __str__(self):
        return f"summary of example {self.example_id}"

    @property
    def multi_turn(self):
        return self.turn_count > 2

    @property
    def prompt_only(self):
        return self.turn_count == 1


class StyleCheck(models.Model):
    """LIMA's style check (curation.workspace.lint) of an example's responses, stored because it costs ~4 ms an
    example: computed by the "Check style" bulk action (curation/workspace/table_columns.py), for the text whose
    hash it keeps; a check of older text counts as no check."""

    example = models.OneToOneField("curation.Example", on_delete=models.CASCADE, primary_key=True, related_name="style_check")
    content_hash = models.CharField(max_length=64)
    warnings = models.PositiveSmallIntegerField(help_text="Style warnings over the assistant's turns")
    codes = models.JSONField(default=list, blank=True, help_text="Their kinds: first_person, link, length…")
    checked_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"style of example {self.example_id}: {self.warnings} warning(s)"


class BulkActionJob(Job):
    """One action on many examples from the table or POST /api/examples/bulk/: approve, reject, set the split,
    tag… Small selections run in the request, larger ones (more than BULK_JOB_MIN_EXAMPLES) on a worker; both
    are a row, so every bulk change says who made it, on what, and what was skipped and why.

    Progress: examples looked at (`done`/`total`); `changed` of them were changed."""

    noun = "bulk action"
    progress_unit = "examples"

    action = models.CharField(max_length=32)
    params = models.JSONField(default=dict, blank=True, help_text="split, tag, reason, comment")
    selection = models.JSONField(
        default=dict, help_text='{"items": {id: version seen}} or {"filters": {...}, "as_of": time the page was shown}'
    )
    changed = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict, blank=True, help_text="{reason: {count, ids (the first 100)}}")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Bulk {self.action} #{self.pk} ({self.status})"

    @property
    def skipped_count(self):
        return sum(entry["count"] for entry in (self.skipped or {}).values())
