"""A proposed set: which examples a proposal picked, against which targets, and how it compares."""
from django.conf import settings
from django.db import models

from core.jobs.models import Job


class Proposal(Job):
    """"Propose a set" as a job: `size` examples picked within each source group's quota for quality and
    coverage (curation.proposals.select). People accept it as a tagged review queue; they still decide."""

    noun = "proposal"
    progress_unit = "steps"
    reaped_note = " Nothing was picked."

    name = models.CharField(max_length=200)
    size = models.PositiveIntegerField(default=1000, help_text="How many to pick (LIMA: 1,000 train examples)")
    quality_weight = models.FloatField(default=0.5, help_text="0: diversity only … 1: quality only")
    quotas = models.JSONField(default=dict, blank=True, help_text="{source group: how many to pick}")
    targets_from = models.CharField(max_length=32, default="lima", help_text="lima or dashboard")
    examples = models.JSONField(default=list, blank=True, help_text="Ids picked, in the order picked")
    by_group = models.JSONField(default=dict, blank=True, help_text="{source group: ids picked}")
    shortfall = models.JSONField(default=dict, blank=True, help_text="{source group: missing to fill its quota}")
    figures = models.JSONField(default=dict, blank=True,
                               help_text="Candidates, exclusions, signals used, coverage and lengths")
    tag = models.CharField(max_length=100, blank=True, help_text="Set once accepted: the tag of its review queue")
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Proposal #{self.pk} {self.name} ({self.status})"

    @property
    def review_tag(self):
        return f"proposal-{self.pk}"
