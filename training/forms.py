"""The form that starts a run: a ready dataset version, a base model, and LIMA's recipe with every value
editable. The fields come from the engine's Recipe dataclass, so a new recipe value appears here by itself;
only values changed from LIMA's defaults become the run's overrides."""
import dataclasses
from pathlib import Path

from django import forms
from django.conf import settings
from django.db.models import Count, Q

from curation.models import DatasetVersion
from training.engine.recipe import AUTO, Recipe, RecipeError, from_overrides

# Groups of the form, in order; a Recipe field not named here lands in "advanced".
GROUPS = {
    "schedule": ["epochs", "learning_rate", "final_learning_rate", "warmup_steps", "batch_size",
                 "micro_batch_size", "max_length", "residual_dropout", "save_from_epoch", "seed"],
    "optimizer": ["adam_beta1", "adam_beta2", "weight_decay", "max_grad_norm"],
    "advanced": ["length_grouping", "lora", "lora_r", "lora_alpha", "lora_dropout", "gradient_checkpointing", "bf16"],
}

HELP = {
    "epochs": "LIMA: 15.",
    "learning_rate": "LIMA: 1e-5 at the first step, no warmup…",
    "final_learning_rate": "…decaying linearly to 1e-6 at the last.",
    "warmup_steps": "LIMA: none.",
    "batch_size": "Examples per optimizer step. auto: 32, or 64 for smaller models (LIMA).",
    "micro_batch_size": "Examples per forward pass; gradient accumulation reaches the batch size.",
    "max_length": "Longer conversations are trimmed to end on an answer's EOT (LIMA: 2,048).",
    "residual_dropout": "At the top layer, rising linearly from 0 at the bottom. auto: 0.3, or 0.2 for smaller models.",
    "save_from_epoch": "A checkpoint each epoch from this one on (LIMA picks one among epochs 5–10).",
    "seed": "Data order, dropout masks, LoRA initialisation.",
    "adam_beta1": "LIMA: 0.9.",
    "adam_beta2": "LIMA: 0.95.",
    "weight_decay": "LIMA: 0.1.",
    "max_grad_norm": "Gradient clipping (not in LIMA); 0 turns it off.",
    "length_grouping": "Batch conversations of similar length together, to cut padding.",
    "lora": "Train LoRA adapters instead of every weight (LIMA fine-tunes all of them).",
    "gradient_checkpointing": "auto: on for GPUs.",
    "bf16": "auto: bf16 on GPUs that support it.",
}

BOOL_CHOICES = [(AUTO, "auto"), ("true", "on"), ("false", "off")]


def default_base_model():
    """TRAINING_DEFAULT_BASE_MODEL, else the demo's tiny model when it was built (make demo-train)."""
    configured = getattr(settings, "TRAINING_DEFAULT_BASE_MODEL", "")
    if configured:
        return configured
    tiny = Path(settings.BASE_DIR) / "var" / "models" / "tiny-demo"
    return str(tiny) if (tiny / "config.json").is_file() else ""


def trainable_versions():
    return (DatasetVersion.objects.filter(status=DatasetVersion.Status.READY)
            .annotate(train_count=Count("items", filter=Q(items__split="train")))
            .filter(train_count__gt=0).order_by("-created_at"))


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, version):
        return f"{version.name} (#{version.pk}) · {version.train_count} train examples"


def recipe_field(field):
    default = getattr(Recipe(), field.name)
    # The key itself: the same name --set, the API and run.json use.
    common = {"label": field.name, "initial": default, "help_text": HELP.get(field.name, "")}
    if default == AUTO and field.name in ("gradient_checkpointing", "bf16"):
        return forms.ChoiceField(choices=BOOL_CHOICES, **common)
    if default == AUTO:
        return forms.CharField(max_length=20, **common)
    if isinstance(default, bool):
        return forms.BooleanField(required=False, **common)
    if isinstance(default, int):
        return forms.IntegerField(**common)
    return forms.FloatField(widget=forms.NumberInput(attrs={"step": "any"}), **common)


class TrainingRunForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="Optional, e.g. “LIMA v3, 15 epochs”")
    dataset_version = VersionChoiceField(queryset=DatasetVersion.objects.none(), empty_label=None,
                                         help_text="A frozen version: its train split, exactly as pinned.")
    base_model = forms.CharField(max_length=500, help_text="A local model folder (e.g. var/models/tiny-demo) or a Hugging Face id.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset_version"].queryset = trainable_versions()
        self.fields["base_model"].initial = default_base_model()
        self.recipe_names = [f.name for f in dataclasses.fields(Recipe)]
        for field in dataclasses.fields(Recipe):
            self.fields[field.name] = recipe_field(field)

    def groups(self):
        """(title, [bound fields]) for the template, in GROUPS order."""
        placed = {name for names in GROUPS.values() for name in names}
        extra = [name for name in self.recipe_names if name not in placed]
        titles = {"schedule": "LIMA's recipe", "optimizer": "Optimizer (AdamW)", "advanced": "Advanced"}
        return [(titles[key], [self[name] for name in names + (extra if key == "advanced" else []) if name in self.fields])
                for key, names in GROUPS.items()]

    def clean(self):
        cleaned = super().clean()
        overrides = {}
        defaults = Recipe()
        for name in self.recipe_names:
            if name not in cleaned:
                continue  # already has its own error
            value = cleaned[name]
            if isinstance(value, str):
                value = value.strip()
            try:
                coerced = getattr(from_overrides({name: value}), name)
            except RecipeError as error:
                self.add_error(name, str(error))
                continue
            if coerced != getattr(defaults, name):
                overrides[name] = coerced
        try:
            from_overrides(overrides)
        except RecipeError as error:
            self.add_error(None, str(error))
        cleaned["overrides"] = overrides
        return cleaned
