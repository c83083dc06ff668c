"""What duplicate finding keeps: each example's signature (for the text whose hash it keeps), the clusters of the
last pass, and the pass as a job.

Imported at the end of curation/models.py, so these are models of the `curation` app.
"""
from django.db import models

from core.jobs.models import Job


class ExampleSignature(models.Model):
    """An example's exact keys and MinHash signatures (curation.dedupe.minhash) of its prompt and its response,
    for the text of `content_hash`; a signature of older text is stale and is computed again
    (curation.dedupe.signatures.update_stale)."""

    example = models.OneToOneField("curation.Example", on_delete=models.CASCADE, primary_key=True, related_name="signature")
    content_hash = models.CharField(max_length=64, help_text="Of the text signed: equals the example's when in step")
    prompt_key = models.CharField(max_length=64, blank=True, db_index=True,
                                  help_text="sha256 of the normalised prompt; empty for no prompt")
    response_key = models.CharField(max_length=64, blank=True, db_index=True,
                                    help_text="sha256 of the normalised response; empty for a prompt alone")
    prompt_minhash = models.BinaryField(null=True, help_text="NUM_PERM uint32 values, little-endian")
    response_minhash = models.BinaryField(null=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"signature of example {self.example_id}"


class DuplicateCluster(models.Model):
    """Examples whose prompts or responses are near-duplicates of each other (a connected group), as the last
    pass (curation.dedupe.index.refresh) found them; every pass replaces them."""

    class Kind(models.TextChoices):
        PROMPT = "prompt", "Same prompt"
        RESPONSE = "response", "Same response"
        BOTH = "both", "Same prompt and response"

    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    size = models.PositiveIntegerField()
    similarity = models.FloatField(help_text="The lowest estimated Jaccard similarity of a pair that joined it")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-size", "id"]

    def __str__(self):
        return f"cluster #{self.pk} ({self.kind}, {self.size} examples)"


class DuplicateMember(models.Model):
    """An example in a cluster; an example is in one cluster at most."""

    example = models.OneToOneField("curation.Example", on_delete=models.CASCADE, primary_key=True, related_name="duplicate")
    cluster = models.ForeignKey(DuplicateCluster, on_delete=models.CASCADE, related_name="members")

    class Meta:
        ordering = ["cluster", "example"]

    def __str__(self):
        return f"example {self.example_id} in cluster {self.cluster_id}"


class DedupeRun(Job):
    """A pass of duplicate finding: stale signatures computed again, then the clusters found anew from all of
    them. Started after each successful import and from /duplicates/. Progress: signatures computed."""

    noun = "duplicate search"
    progress_unit = "signatures"

    signed = models.PositiveIntegerField(default=0, help_text="Signatures computed (new or changed examples)")
    clusters = models.PositiveIntegerField(default=0)
    clustered = models.PositiveIntegerField(default=0, help_text="Examples in a cluster")
    reason = models.CharField(max_length=100, blank=True, help_text="What started it: import #N, a person…")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Duplicate search #{self.pk} ({self.status})"
