"""A judge run over a study, its cached calls and its verdicts (imported by inference.models: models of the app).

JudgeCall is the cache: one answer of one judge model to one rendered question in one order, keyed by
verdicts.cache_key, shared by every run and study that asks the same; a run that is started again, or killed
and reaped and started again, finds what it already received there and asks only for the rest.
"""
from django.conf import settings
from django.db import models

from core.jobs.models import Job


class JudgeRun(Job):
    """A model endpoint judging every item of a study; `done`/`total` are items."""

    noun = "judge run"
    progress_unit = "items"

    study = models.ForeignKey("inference.Study", on_delete=models.CASCADE, related_name="judge_runs")
    endpoint = models.ForeignKey("inference.ModelEndpoint", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="judge_runs")
    judge_name = models.CharField(max_length=200, help_text="The endpoint's name when the run was made")
    judge_model = models.CharField(max_length=200, help_text="The model name the endpoint was asked for")
    template = models.TextField(help_text="The question, with {conversation} and {response_a}/{response_b} or {response}")
    max_tokens = models.PositiveIntegerField(default=64)
    temperature = models.FloatField(default=0.0, help_text="0: the judge's most likely answer")
    items = models.PositiveIntegerField(default=0, help_text="Items with a verdict")
    wins = models.PositiveIntegerField(default=0, help_text="Verdicts for the study's first run (pairwise)")
    ties = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    flips = models.PositiveIntegerField(default=0, help_text="Items where the order changed the verdict")
    unparseable = models.PositiveIntegerField(default=0, help_text="Answers that named no option, or several")
    calls = models.PositiveIntegerField(default=0, help_text="Requests this run sent (the cache answered the rest)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Judge run #{self.pk} {self.judge_name} on study {self.study_id} ({self.status})"

    @property
    def flip_rate(self):
        """Share of the items with a verdict (both answers read) where the two orders disagreed."""
        return round(self.flips / self.items, 4) if self.items else None


class JudgeCall(models.Model):
    key = models.CharField(max_length=64, unique=True)
    judge_model = models.CharField(max_length=200)
    order = models.CharField(max_length=8, help_text="AB, BA, or one (a rated response)")
    output = models.TextField(blank=True, help_text="The judge's raw answer, kept whole")
    label = models.CharField(max_length=16, blank=True, help_text="As read, in the order shown; empty: unparseable")
    finish_reason = models.CharField(max_length=16, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class JudgeVerdict(models.Model):
    """A run's verdict on one item, from the calls behind it."""

    run = models.ForeignKey(JudgeRun, on_delete=models.CASCADE, related_name="verdicts")
    item = models.ForeignKey("inference.StudyItem", on_delete=models.CASCADE, related_name="judge_verdicts")
    forward = models.ForeignKey(JudgeCall, on_delete=models.PROTECT, related_name="+")
    backward = models.ForeignKey(JudgeCall, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=16, blank=True,
                             help_text="In the item's order (A = left), or a rating; empty: unparseable")
    flipped = models.BooleanField(default=False)
    unparseable = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "item"], name="judge_verdict_unique_per_item")]
        ordering = ["run", "item__position"]
