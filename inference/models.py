"""Inference: generation runs and their responses, and the human studies that judge them.

Lineage: a Judgment or Rating -> StudyItem -> Generation(s) -> GenerationRun -> checkpoint -> training
run -> dataset version; a Generation also points at the DatasetItem (pinned revision) its prompt came from.
"""
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from core.jobs.models import Job
from inference.endpoints.models import ModelEndpoint, ModelServer  # noqa: F401  (models of this app)


class GenerationRun(Job):
    """A model's responses to a prompt set: generated here from a checkpoint, or imported (a baseline).
    Progress: `done`/`total` are prompts answered."""

    noun = "generation run"
    progress_unit = "prompts"

    class Kind(models.TextChoices):
        MODEL = "model", "Generated here"
        EXTERNAL = "external", "Imported responses"

    name = models.CharField(max_length=200, help_text="The model name its responses are filed under")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MODEL)
    checkpoint = models.ForeignKey(
        "training.Checkpoint", null=True, blank=True, on_delete=models.PROTECT, related_name="generation_runs",
    )
    model_path = models.CharField(max_length=1000, blank=True, help_text="The model folder that was loaded")
    endpoint = models.ForeignKey(
        "inference.ModelEndpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="generation_runs",
        help_text="Asked instead of a local checkpoint (a baseline such as GPT-4, or a served checkpoint)",
    )
    endpoint_model = models.CharField(max_length=200, blank=True, help_text="The model name the endpoint was asked for")
    partial = models.FloatField(default=0.0, help_text="Progress inside the prompts still being written, in prompts")
    prompt_tokens = models.BigIntegerField(default=0, help_text="Prompt tokens of the answers received")
    completion_tokens = models.BigIntegerField(default=0, help_text="Tokens generated, in all")
    dataset_version = models.ForeignKey(
        "curation.DatasetVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="generation_runs",
    )
    split = models.CharField(max_length=16, blank=True, help_text="The version's split the prompts came from")
    prompts_file = models.CharField(max_length=1000, blank=True, help_text="An uploaded prompt or response file")
    decoding = models.JSONField(default=dict, blank=True, help_text="Decoding settings the engine received")
    seed = models.IntegerField(default=0)
    batch_size = models.PositiveIntegerField(default=16)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Generation #{self.pk} {self.name} ({self.status})"

    @property
    def progress(self):
        """Prompts answered plus the share already written of those in the batch, so the bar moves per token
        block while long answers are written, not only as each ends."""
        if self.status == self.Status.SUCCEEDED:
            return 1.0
        return min(1.0, (self.done + min(self.partial, max(self.total - self.done, 0))) / self.total) if self.total else 0.0

    @property
    def progress_text(self):
        text = super().progress_text
        return f"{text} · {self.completion_tokens:,} tokens" if self.completion_tokens else text


class DraftRun(Job):
    """A model's drafts of the answers to prompt-only examples (hand-written prompts, r/AskReddit titles), each
    written as the example's next revision for people to edit; the revision's note names the model."""

    noun = "draft run"
    progress_unit = "prompts"

    name = models.CharField(max_length=200, help_text="The model's name, as the revisions record it")
    checkpoint = models.ForeignKey(
        "training.Checkpoint", null=True, blank=True, on_delete=models.PROTECT, related_name="draft_runs",
    )
    model_path = models.CharField(max_length=1000)
    examples = models.JSONField(default=list, help_text="[example id, version] as they were when asked")
    decoding = models.JSONField(default=dict, blank=True)
    seed = models.IntegerField(default=0)
    batch_size = models.PositiveIntegerField(default=8)
    written = models.JSONField(default=list, blank=True, help_text="Ids of the examples given a draft")
    skipped = models.JSONField(default=dict, blank=True, help_text="{example id: why it was left alone}")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Drafts #{self.pk} by {self.name} ({self.status})"


class Generation(models.Model):
    """One response of a run to one prompt."""

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="generations")
    position = models.PositiveIntegerField(help_text="Order in the prompt set")
    prompt_key = models.CharField(
        max_length=200, help_text="Matches the same prompt across runs: the example id, or the file's id"
    )
    prompt = models.JSONField(help_text="LIMA's flat list of turns, ending with the user's")
    response = models.TextField(blank=True)
    model_name = models.CharField(max_length=200)
    finish_reason = models.CharField(
        max_length=16, blank=True, help_text="stop: ended by itself (EOT); length: cut at the token limit; empty: unknown",
    )
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    dataset_item = models.ForeignKey(
        "curation.DatasetItem", null=True, blank=True, on_delete=models.PROTECT, related_name="generations",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "prompt_key"], name="generation_prompt_unique_per_run")]
        ordering = ["run", "position"]

    def __str__(self):
        return f"{self.model_name} on {self.prompt_key}"


def study_kinds():
    """The registered evaluation protocols (inference.protocols): a new one needs no migration."""
    from inference import protocols

    return protocols.choices()


class Study(models.Model):
    """Blind human evaluation of generation runs over the same prompts, by one evaluation protocol (its kind)."""

    class Pairing(models.TextChoices):
        FIRST = "first", "The first run against each of the others"
        ALL = "all", "Every pair of runs"
        SAMPLED = "sampled", "A few pairs per prompt, drawn evenly across the runs"

    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, help_text="Shown to annotators (Markdown)")
    kind = models.CharField(max_length=16, choices=study_kinds, default="pairwise")
    runs = models.ManyToManyField(GenerationRun, through="StudyRun", related_name="studies")
    pairing = models.CharField(max_length=16, choices=Pairing.choices, default=Pairing.FIRST)
    pairs_per_prompt = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)],
        help_text="With pairs drawn per prompt: how many pairs of runs each prompt is shown with",
    )
    overlap = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Annotators per item; agreement needs at least 2",
    )
    sample_size = models.PositiveIntegerField(
        null=True, blank=True, help_text="Prompts drawn (seeded) from those every run answered; empty: all",
    )
    seed = models.IntegerField(default=0, help_text="Draws the sample, the item order and the left/right sides")
    is_open = models.BooleanField(default=True, help_text="Annotators may still label")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "studies"

    def __str__(self):
        return f"Study #{self.pk} {self.name}"

    @property
    def protocol(self):
        """What an annotator sees and how the labels become results: inference.protocols, by kind."""
        from inference import protocols

        return protocols.get(self.kind)


class StudyRun(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="study_runs")
    run = models.ForeignKey(GenerationRun, on_delete=models.PROTECT, related_name="study_runs")
    position = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "run"], name="study_run_unique")]
        ordering = ["study", "position"]


class StudyItem(models.Model):
    """What one annotator sees at once: a prompt with the responses its protocol shows (two, or one).

    The left/right order is drawn from the study's seed and recorded here: `left` is shown as A,
    `right` as B. Nothing on the annotator's page says which run either came from.
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(help_text="1-based; the order annotators meet the items")
    prompt_key = models.CharField(max_length=200)
    left = models.ForeignKey(Generation, on_delete=models.PROTECT, related_name="+")
    right = models.ForeignKey(Generation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "position"], name="study_item_position_unique")]
        ordering = ["study", "position"]

    def __str__(self):
        return f"item {self.position} of study {self.study_id}"


class Claim(models.Model):
    """An annotator holds an unlabelled item for a while, so no more than `overlap` people label it."""

    item = models.ForeignKey(StudyItem, on_delete=models.CASCADE, related_name="claims")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    until = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "annotator"], name="claim_unique")]


class Judgment(models.Model):
    """A pairwise label, from the annotator's view: A (left) better, B (right) better, or neither."""

    class Label(models.TextChoices):
        A = "A", "A is better"
        B = "B", "B is better"
        TIE = "tie", "Neither is significantly better"

    item = models.ForeignKey(StudyItem, on_delete=models.CASCADE, related_name="judgments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="judgments")
    label = models.CharField(max_length=8, choices=Label.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "annotator"], name="judgment_unique_per_annotator")]
        ordering = ["item", "created_at"]

    def __str__(self):
        return f"{self.label} by {self.annotator_id} on {self.item}"


class Rating(models.Model):
    """LIMA's absolute scale on one response (LIMA.md, Evaluation: 12 / 38 / 50 % for LIMA)."""

    class Label(models.TextChoices):
        FAIL = "Fail"
        PASS = "Pass"
        EXCELLENT = "Excellent"

    item = models.ForeignKey(StudyItem, on_delete=models.CASCADE, related_name="ratings")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ratings")
    label = models.CharField(max_length=16, choices=Label.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "annotator"], name="rating_unique_per_annotator")]
        ordering = ["item", "created_at"]

    def __str__(self):
        return f"{self.label} by {self.annotator_id} on {self.item}"


from inference.judging.models import JudgeCall, JudgeRun, JudgeVerdict  # noqa: E402, F401  (models of this app)
