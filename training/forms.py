"""The form that starts a run: a ready dataset version, a base model (picked among the local ones, or a path or
hub id), and LIMA's recipe with every value editable. The fields come from the engine's Recipe dataclass (text
fields as choices from recipe.CHOICES), so a new recipe value appears here by itself; only values changed from
LIMA's defaults become the run's overrides. `?preset=demo` fills in the quick demo (training.demo.QUICK_DEMO)."""
import dataclasses
from pathlib import Path

from django import forms
from django.conf import settings
from django.db.models import Count, Q

from curation.models import DatasetVersion
from training.demo import QUICK_DEMO, QUICK_DEMO_NOTE, TINY_MODEL_NAME
from training.engine.recipe import AUTO, CHOICES, SELECTIVE, Recipe, RecipeError, from_overrides

# Groups of the form, in order; a Recipe field not named here lands in "advanced".
GROUPS = {
    "schedule": ["epochs", "learning_rate", "final_learning_rate", "warmup_steps", "batch_size",
                 "micro_batch_size", "max_length", "overlong", "residual_dropout", "save_from_epoch", "seed"],
    "optimizer": ["adam_beta1", "adam_beta2", "weight_decay", "max_grad_norm"],
    "advanced": ["length_grouping", "packing", "lora", "lora_r", "lora_alpha", "lora_dropout", "lora_learning_rate",
                 "save_every_steps", "gradient_checkpointing", "bf16", "compile"],
}

HELP = {
    "epochs": "LIMA: 15.",
    "learning_rate": "LIMA: 1e-5 at the first step, no warmup…",
    "final_learning_rate": "…decaying linearly to 1e-6 at the last.",
    "warmup_steps": "LIMA: none.",
    "batch_size": "Examples per optimizer step. auto: 32, or 64 for smaller models (LIMA).",
    "micro_batch_size": "Examples per forward pass; gradient accumulation reaches the batch size.",
    "max_length": "Longer conversations are trimmed to end on an answer's EOT (LIMA: 2,048).",
    "overlong": "When even the first answer does not fit: cut trains its start without an EOT (never a stop "
                "mid-sentence); drop leaves the example out. Not in LIMA, which only says “trimmed”.",
    "residual_dropout": "At the top layer, rising linearly from 0 at the bottom. auto: 0.3, or 0.2 for smaller models.",
    "save_from_epoch": "A checkpoint each epoch from this one on (LIMA picks one among epochs 5–10).",
    "seed": "Data order, dropout masks, LoRA initialisation.",
    "adam_beta1": "LIMA: 0.9.",
    "adam_beta2": "LIMA: 0.95.",
    "weight_decay": "LIMA: 0.1.",
    "max_grad_norm": "Gradient clipping (not in LIMA); 0 turns it off.",
    "length_grouping": "Order a step's examples by length into its micro-batches, to cut padding (the steps "
                       "themselves stay random: the mix is unchanged).",
    "packing": "Lay a step's examples end to end with no padding. auto: on a GPU with flash-attention, off "
               "elsewhere (on CPU it is correct but slower).",
    "lora": "Train LoRA adapters instead of every weight (LIMA fine-tunes all of them).",
    "lora_learning_rate": "Not LIMA's: LoRA practice, 20× its 1e-5, decaying by the same ratio.",
    "save_every_steps": "A resume point (weights + optimizer) every N steps besides each epoch's end; 0: epochs only.",
    "gradient_checkpointing": "Recompute activations in backward to save memory. auto: on for GPUs; selective "
                              "keeps matmul and attention outputs.",
    "bf16": "auto: bf16 on GPUs that support it.",
    "compile": "torch.compile each decoder layer: faster GPU steps after a slow first one.",
}

CHOICE_LABELS = {AUTO: "auto", True: "on", False: "off", SELECTIVE: "selective", "cut": "cut", "drop": "drop"}
OTHER_MODEL = ""  # the picker's entry for "the path or hub id typed below"


def choice_value(value):
    """How a recipe value travels in the form: booleans as "true"/"false", as --set and the API accept them."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def model_folders():
    """[(path, label)] of the local models the picker offers: folders with a config.json under VAR_DIR/models and
    under each MODEL_DIRS entry (or the entry itself when it is a model folder)."""
    roots = [Path(settings.VAR_DIR) / "models", *(Path(folder).expanduser() for folder in settings.MODEL_DIRS)]
    found = {}
    for root in roots:
        if not root.is_absolute():
            root = Path(settings.BASE_DIR) / root
        candidates = [root] if (root / "config.json").is_file() else sorted(root.iterdir()) if root.is_dir() else []
        for folder in candidates:
            if (folder / "config.json").is_file():
                folder = folder.resolve()
                found.setdefault(str(folder), f"{folder.name}  ({folder.parent})")
    return list(found.items())


def default_base_model():
    """TRAINING_DEFAULT_BASE_MODEL, else the tiny model `make run` builds (VAR_DIR/models/tiny-demo) when it is there."""
    configured = getattr(settings, "TRAINING_DEFAULT_BASE_MODEL", "")
    if configured:
        return configured
    tiny = Path(settings.VAR_DIR) / "models" / TINY_MODEL_NAME
    if not tiny.is_absolute():
        tiny = Path(settings.BASE_DIR) / tiny
    return str(tiny.resolve()) if (tiny / "config.json").is_file() else ""


def trainable_versions():
    return (DatasetVersion.objects.filter(status=DatasetVersion.Status.READY)
            .annotate(train_count=Count("items", filter=Q(items__split="train")))
            .filter(train_count__gt=0).order_by("-created_at"))


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, version):
        return f"{version.name} (#{version.pk}) · {version.train_count} train examples"


def recipe_field(field):
    default = getattr(Recipe(), field.name)
    # The key itself: the same name --set, the API and run.json use. A value left empty (or not posted) is LIMA's.
    common = {"label": field.name, "initial": default, "help_text": HELP.get(field.name, ""), "required": False}
    if field.name in CHOICES:
        choices = [(choice_value(value), CHOICE_LABELS.get(value, str(value))) for value in CHOICES[field.name]]
        return forms.ChoiceField(choices=choices, **{**common, "initial": choice_value(default)})
    if default == AUTO:
        return forms.CharField(max_length=20, **common)
    if isinstance(default, bool):
        return forms.BooleanField(**common)
    if isinstance(default, int):
        return forms.IntegerField(**common)
    return forms.FloatField(widget=forms.NumberInput(attrs={"step": "any"}), **common)


class TrainingRunForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="Optional, e.g. “LIMA v3, 15 epochs”")
    dataset_version = VersionChoiceField(queryset=DatasetVersion.objects.none(), empty_label=None,
                                         help_text="A frozen version: its train split, exactly as pinned.")
    base_model_choice = forms.ChoiceField(
        label="Base model", required=False,
        help_text="The models under var/models/ and the MODEL_DIRS folders.",
    )
    base_model = forms.CharField(
        label="…or a path or hub id", max_length=500, required=False,
        help_text="Another local model folder or a Hugging Face id; when given it is used instead of the list.",
    )

    def __init__(self, *args, preset=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset_version"].queryset = trainable_versions()
        self.recipe_names = [f.name for f in dataclasses.fields(Recipe)]
        for field in dataclasses.fields(Recipe):
            self.fields[field.name] = recipe_field(field)
        folders = model_folders()
        self.fields["base_model_choice"].choices = [*folders, (OTHER_MODEL, "another model: the path or hub id below")]
        default = default_base_model()
        if default in dict(folders):
            self.fields["base_model_choice"].initial = default
        else:
            self.fields["base_model_choice"].initial = OTHER_MODEL
            self.fields["base_model"].initial = default
        self.preset = preset if preset == "demo" else None
        if self.preset:
            self.apply_quick_demo()

    def apply_quick_demo(self):
        """The quick demo's recipe (and the tiny model, when it is there) as the form's initial values."""
        for name, value in QUICK_DEMO.items():
            field = self.fields[name]
            field.initial = choice_value(value) if isinstance(field, forms.ChoiceField) else value
        self.fields["name"].initial = "Quick demo"
        self.quick_demo_note = QUICK_DEMO_NOTE

    def groups(self):
        """(title, [bound fields]) for the template, in GROUPS order."""
        placed = {name for names in GROUPS.values() for name in names}
        extra = [name for name in self.recipe_names if name not in placed]
        titles = {"schedule": "LIMA's recipe", "optimizer": "Optimizer (AdamW)", "advanced": "Advanced"}
        return [(titles[key], [self[name] for name in names + (extra if key == "advanced" else []) if name in self.fields])
                for key, names in GROUPS.items()]

    def clean(self):
        cleaned = super().clean()
        typed = (cleaned.get("base_model") or "").strip()
        cleaned["base_model"] = typed or cleaned.get("base_model_choice") or ""
        if not cleaned["base_model"] and "base_model_choice" not in self.errors:
            self.add_error("base_model", "Choose a model in the list or give a path or hub id.")
        overrides = {}
        defaults = Recipe()
        for name in self.recipe_names:
            if name not in cleaned:
                continue  # already has its own error
            value = cleaned[name]
            if isinstance(value, str):
                value = value.strip()
            if value is None or value == "":
                continue  # LIMA's value
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


def effective_batch_size(value):
    """The batch a recipe value means before the model is known: auto is LIMA's 64 for models under 50B
    parameters (32 above)."""
    if value in (None, "", AUTO):
        return 64
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def batch_warning(version, batch_size):
    """A sentence when the batch is larger than the version's train split (every epoch one short step), else ""."""
    batch = effective_batch_size(batch_size)
    if version is None or batch is None:
        return ""
    examples = getattr(version, "train_count", None)
    if examples is None:
        examples = version.items.filter(split="train").count()
    if not examples or batch <= examples:
        return ""
    auto = " (auto: LIMA's 64 for models under 50B parameters)" if batch_size in (None, "", AUTO) else ""
    return (f"The batch of {batch}{auto} is larger than the {examples} train examples of {version.name}: each epoch "
            f"is a single optimizer step of {examples} examples. Lower batch_size to get several steps an epoch "
            f"(the quick demo uses {QUICK_DEMO['batch_size']}).")
