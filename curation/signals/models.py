"""What curation.signals keeps beside each example, and its runs as jobs.

Imported at the end of curation/models.py, so these are models of the `curation` app. Every row is for the text
whose hash it keeps (the example's current revision when the hashes are equal); a row for older text is stale:
read as missing, replaced by the next run.
"""
import numpy as np
from django.conf import settings
from django.db import models

from core.jobs.models import Job

SIGNALS = ("embedding", "length_percentile", "style", "ifd")
SCORED = ("length_percentile", "style", "ifd")  # the signals kept as a Score (the embedding is a vector)


class Embedding(models.Model):
    """A sentence embedding of an example's prompt and response, L2-normalised, as float32 bytes."""

    example = models.ForeignKey("curation.Example", on_delete=models.CASCADE, related_name="embeddings")
    model_name = models.CharField(max_length=300, help_text="The sentence-transformers model folder's name")
    content_hash = models.CharField(max_length=64, help_text="Of the text embedded: the example's when fresh")
    dim = models.PositiveSmallIntegerField()
    vector = models.BinaryField(help_text="float32, little-endian, L2-normalised")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["example", "model_name"], name="embedding_example_model_unique")]
        # The search index's "anything new?" (curation.signals.index): the latest update, from this index alone.
        indexes = [models.Index(fields=["model_name", "updated_at"], name="embedding_model_updated_idx")]

    def __str__(self):
        return f"embedding of example {self.example_id} ({self.model_name})"

    @property
    def array(self):
        return np.frombuffer(bytes(self.vector), dtype="<f4")


class Score(models.Model):
    """One quality signal's value for an example's text."""

    class Signal(models.TextChoices):
        LENGTH_PERCENTILE = "length_percentile", "Length percentile"
        STYLE = "style", "Style warnings"
        IFD = "ifd", "Instruction-following difficulty"

    example = models.ForeignKey("curation.Example", on_delete=models.CASCADE, related_name="scores")
    signal = models.CharField(max_length=32, choices=Signal.choices)
    content_hash = models.CharField(max_length=64)
    value = models.FloatField()
    computed_by = models.CharField(max_length=300, blank=True, help_text="The model of a model-based signal (ifd)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["example", "signal"], name="score_example_signal_unique")]
        indexes = [models.Index(fields=["signal", "value"], name="score_signal_value_idx")]

    def __str__(self):
        return f"{self.signal} of example {self.example_id}: {self.value:g}"


class SignalRun(Job):
    """One signal computed for every example whose value is missing or stale, split into shards (SignalShard)
    that any worker takes. The run's own job plans the shards, queues them, takes queued ones itself while it
    waits, and ends when they all have: failed or cancelled with the first shard that did.

    Progress: examples done over all shards (`done`/`total`)."""

    noun = "signal run"
    progress_unit = "examples"
    reaped_note = " Its shards are cancelled; what they finished is kept (each shard saves its own examples)."

    signal = models.CharField(max_length=32, choices=[(s, s) for s in SIGNALS])
    model_name = models.CharField(max_length=500, blank=True, help_text="The model used (embedding, ifd)")
    shard_size = models.PositiveIntegerField(default=0)
    shard_count = models.PositiveIntegerField(default=0)
    in_process = models.BooleanField(default=False, help_text="Shards computed by the run itself (tests, small sets)")
    options = models.JSONField(default=dict, blank=True, help_text='{"everything": true}: recompute fresh values too')
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Signal run #{self.pk} {self.signal} ({self.status})"


class SignalShard(Job):
    """A slice of a SignalRun: the examples it computes, queued on its own so several workers share a run."""

    noun = "signal shard"
    progress_unit = "examples"

    run = models.ForeignKey(SignalRun, on_delete=models.CASCADE, related_name="shards")
    number = models.PositiveIntegerField(help_text="1 for the first shard")
    example_ids = models.JSONField(default=list)

    class Meta:
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="signal_shard_number_unique")]

    def __str__(self):
        return f"Shard {self.number} of signal run #{self.run_id} ({self.status})"
