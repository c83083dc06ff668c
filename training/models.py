"""Training: a fine-tuning job on a frozen dataset version, and the checkpoints it wrote.

A TrainingRun is the whole state of a job on the server (status, progress, metric series, log tail,
checkpoints), so a page reload or a closed browser loses nothing. The engine subprocess writes JSON
lines; the runner (training/runner.py) turns them into these rows.
"""
from django.conf import settings
from django.db import models

from core.duration import seconds_text
from core.jobs.models import Job


class TrainingRun(Job):
    """Progress: `done`/`total` are optimizer steps."""

    noun = "training run"
    progress_unit = "steps"
    reaped_note = " Resume it to continue from its last resume point."

    name = models.CharField(max_length=200, blank=True)
    dataset_version = models.ForeignKey(
        "curation.DatasetVersion", on_delete=models.PROTECT, related_name="training_runs",
        help_text="The frozen version trained on (its train split, from pinned revisions)",
    )
    base_model = models.CharField(max_length=500, help_text="A Hugging Face model id or a local folder")
    overrides = models.JSONField(default=dict, blank=True, help_text="Recipe values changed from LIMA's defaults")
    recipe = models.JSONField(
        default=dict, blank=True,
        help_text="The whole recipe: LIMA's defaults with the overrides, resolved by the engine once it starts",
    )
    output_dir = models.CharField(max_length=1000, blank=True, help_text="Checkpoints, data and logs of the run")
    data_file = models.CharField(max_length=1000, blank=True, help_text="The train split written as LIMA JSONL")
    train_examples = models.PositiveIntegerField(default=0)

    epoch = models.PositiveIntegerField(default=0)
    epochs = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Series: step, epoch, loss, lr per step; epoch_loss per epoch",
    )
    stats = models.JSONField(default=dict, blank=True, help_text="Latest tokens/s, ETA, memory, gradient norm, padding")
    data_report = models.JSONField(
        default=dict, blank=True,
        help_text="What the engine made of the data: examples, trimmed, cut and dropped per source, each source's "
                  "share of the trained tokens, the model's dtype",
    )
    resume_point = models.JSONField(
        default=dict, blank=True,
        help_text="The latest resume point (weights + optimizer state): epoch, step, path, bytes; empty when none "
                  "(the engine deletes it when the run is done)",
    )
    log_tail = models.TextField(blank=True, help_text="The last lines the engine wrote to stderr")

    device = models.CharField(max_length=64, blank=True)
    world_size = models.PositiveSmallIntegerField(default=0, help_text="Processes (GPUs) the engine ran on")
    pid = models.IntegerField(null=True, blank=True, help_text="The engine subprocess, while it runs")
    pgid = models.IntegerField(null=True, blank=True, help_text="Its process group: cancel kills the whole group")
    resume_requested = models.BooleanField(default=False, help_text="The next attempt continues from the latest resume point")
    resumed_from = models.CharField(max_length=1000, blank=True, help_text="The resume point the last attempt started from")
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs",
    )
    chosen_checkpoint = models.ForeignKey(
        "Checkpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The checkpoint people chose (LIMA: by hand, among epochs 5 to 10)",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Training run #{self.pk} ({self.status})"

    @property
    def title(self):
        return self.name or f"Run #{self.pk}"

    @property
    def base_model_label(self):
        """A local folder's last component (tiny-demo), or the hub id as is."""
        return self.base_model.rstrip("/").rsplit("/", 1)[-1] if self.base_model.startswith("/") else self.base_model

    @property
    def eta_text(self) -> str:
        """The time left, as people read it ("12 min 05 s"); "" while unknown."""
        eta = (self.stats or {}).get("eta_s")
        return seconds_text(eta) if isinstance(eta, (int, float)) else ""

    @property
    def step(self):
        return self.done

    @property
    def resume_step(self):
        """The step a resume continues from (None: no resume point, a resume starts over)."""
        return (self.resume_point or {}).get("step")

    def disk_bytes(self, checkpoints=None):
        """Bytes on disk of the epoch checkpoints and the resume point (data and logs aside)."""
        checkpoints = self.checkpoints.all() if checkpoints is None else checkpoints
        return sum(c.bytes for c in checkpoints) + int((self.resume_point or {}).get("bytes") or 0)

    @property
    def total_steps(self):
        return self.total

    @property
    def epoch_losses(self):
        return list((self.metrics or {}).get("epoch_loss", []))

    @property
    def last_epoch_loss(self):
        losses = self.epoch_losses
        return losses[-1] if losses else None


# LIMA chose its checkpoint by hand "between the 5th and the 10th epochs" (LIMA.md): choosing one outside
# them asks for a confirmation.
CHOICE_WINDOW = (5, 10)


class Checkpoint(models.Model):
    """A model folder the engine wrote at the end of an epoch (weights only, tokenizer, recipe, metrics)."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="checkpoints")
    epoch = models.PositiveIntegerField()
    step = models.PositiveIntegerField()
    path = models.CharField(max_length=1000)
    metrics = models.JSONField(default=dict, blank=True, help_text="mean_loss of the epoch, loss and lr at its last step")
    bytes = models.BigIntegerField(default=0, help_text="Disk use of the folder")
    dtype = models.CharField(max_length=32, blank=True, help_text="Of its weights: the base model's (bfloat16, float32…)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "epoch"], name="checkpoint_epoch_unique_per_run")]
        ordering = ["run", "epoch"]

    def __str__(self):
        return f"Run #{self.run_id}, epoch {self.epoch}"

    @property
    def in_window(self):
        """Among the epochs LIMA chose from (5 to 10)."""
        return CHOICE_WINDOW[0] <= self.epoch <= CHOICE_WINDOW[1]
