"""Forms of the generation, study and playground pages."""
from django import forms
from django.core.exceptions import ValidationError

from curation.models import DatasetVersion
from inference import protocols
from inference.engine.decoding import DecodingSettings
from inference.models import GenerationRun, ModelEndpoint, Study
from inference.services import PROMPT_SPLITS
from training.models import Checkpoint, TrainingRun

LIMA = DecodingSettings()
SPLIT_CHOICES = [(split, split) for split in PROMPT_SPLITS]


class CheckpointChoice(forms.ModelChoiceField):
    def label_from_instance(self, checkpoint):
        return f"{checkpoint.run.title} · epoch {checkpoint.epoch} (step {checkpoint.step})"


class VersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, version):
        return f"{version.name} (#{version.pk}, {version.example_count} examples)"


class RunChoice(forms.ModelChoiceField):
    def label_from_instance(self, run):
        return f"#{run.pk} {run.name} ({run.total} prompts)"


class RunsChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, run):
        return f"#{run.pk} {run.name} ({run.total} prompts)"


def checkpoints():
    return Checkpoint.objects.select_related("run").order_by("-run__created_at", "epoch")


def ready_versions():
    return DatasetVersion.objects.filter(status=DatasetVersion.Status.READY)


def finished_runs():
    return GenerationRun.objects.filter(status=GenerationRun.Status.SUCCEEDED)


class DecodingFields(forms.Form):
    """LIMA's decoding (LIMA.md, Decoding) as the defaults; every field the engine's CLI takes."""

    temperature = forms.FloatField(initial=LIMA.temperature, min_value=0.01, help_text="LIMA: 0.7")
    top_p = forms.FloatField(label="Top p", initial=LIMA.top_p, min_value=0.01, max_value=1.0, help_text="LIMA: 0.9")
    repetition_penalty = forms.FloatField(initial=LIMA.repetition_penalty, min_value=0.01, help_text="LIMA: 1.2")
    max_new_tokens = forms.IntegerField(initial=LIMA.max_new_tokens, min_value=1, max_value=32768,
                                        help_text="LIMA: 2,048")
    greedy = forms.BooleanField(required=False, help_text="No sampling (same penalty and length)")

    def decoding(self) -> DecodingSettings:
        data = self.cleaned_data
        return DecodingSettings(
            temperature=data["temperature"], top_p=data["top_p"], repetition_penalty=data["repetition_penalty"],
            max_new_tokens=data["max_new_tokens"], do_sample=not data["greedy"],
        )


class GenerationRunForm(DecodingFields):
    checkpoint = CheckpointChoice(queryset=Checkpoint.objects.none(), required=False)
    endpoint = forms.ModelChoiceField(queryset=ModelEndpoint.objects.none(), required=False,
                                      label="…or a model endpoint",
                                      help_text="An external model (a baseline such as GPT-4) or a served checkpoint")
    model_path = forms.CharField(required=False, max_length=1000, label="…or a model folder on the server",
                                 help_text="A save_pretrained folder with the chat tokens (a base model, say)")
    name = forms.CharField(required=False, max_length=200, help_text="Default: the run and epoch")
    dataset_version = VersionChoice(queryset=DatasetVersion.objects.none(), required=False)
    split = forms.ChoiceField(choices=SPLIT_CHOICES, initial="dev")
    prompts = forms.FileField(required=False, label="…or a prompt file",
                              help_text="JSONL in LIMA's format: {\"conversations\": [...], \"id\"?}")
    seed = forms.IntegerField(initial=0)
    batch_size = forms.IntegerField(initial=16, min_value=1, max_value=512)
    field_order = ["checkpoint", "model_path", "endpoint", "name", "dataset_version", "split", "prompts",
                   "temperature", "top_p", "repetition_penalty", "max_new_tokens", "greedy", "seed", "batch_size"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["checkpoint"].queryset = checkpoints()
        self.fields["endpoint"].queryset = ModelEndpoint.objects.all()
        self.fields["dataset_version"].queryset = ready_versions()

    def clean(self):
        data = super().clean()
        chosen = [bool(data.get("checkpoint")), bool((data.get("model_path") or "").strip()), bool(data.get("endpoint"))]
        if sum(chosen) != 1:
            raise ValidationError("Choose a checkpoint, a model folder or a model endpoint (one of them).")
        if bool(data.get("dataset_version")) == bool(data.get("prompts")):
            raise ValidationError("Choose a dataset version or upload a prompt file (one of the two).")
        return data


class ImportResponsesForm(forms.Form):
    responses = forms.FileField(help_text='JSONL: {"id": prompt id, "response": "…", "model": "…"} a line')
    name = forms.CharField(required=False, max_length=200, help_text="The model's name; default: the file's")
    dataset_version = VersionChoice(queryset=DatasetVersion.objects.none(), required=False,
                                    help_text="Ids are its example ids (as in its exports)")
    split = forms.ChoiceField(choices=[("", "any")] + SPLIT_CHOICES, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset_version"].queryset = ready_versions()


class CheckpointSelectionForm(DecodingFields):
    training_run = forms.ModelChoiceField(queryset=TrainingRun.objects.none())
    split = forms.ChoiceField(choices=SPLIT_CHOICES, initial="dev", help_text="LIMA: the 50 dev prompts")
    first_epoch = forms.IntegerField(initial=5, min_value=0, help_text="LIMA: epochs 5 to 10")
    last_epoch = forms.IntegerField(initial=10, min_value=0)
    seed = forms.IntegerField(initial=0)
    field_order = ["training_run", "split", "first_epoch", "last_epoch", "seed"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["training_run"].queryset = TrainingRun.objects.filter(checkpoints__isnull=False).distinct()
        self.fields["training_run"].label_from_instance = lambda run: f"{run.title} (#{run.pk})"

    def clean(self):
        data = super().clean()
        if data.get("first_epoch") is not None and data.get("last_epoch") is not None \
                and data["first_epoch"] > data["last_epoch"]:
            raise ValidationError("The first epoch comes after the last.")
        return data


class StudyForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="Annotators do not see it while they label")
    kind = forms.ChoiceField(choices=protocols.choices, widget=forms.RadioSelect, initial=protocols.DEFAULT)
    first_run = RunChoice(queryset=GenerationRun.objects.none(), label="Model under study",
                          help_text="Win/tie/loss is reported from its side, as in LIMA's Figure 1")
    other_runs = RunsChoice(queryset=GenerationRun.objects.none(), label="Compared with",
                            widget=forms.CheckboxSelectMultiple, required=False)
    pairing = forms.ChoiceField(choices=Study.Pairing.choices, initial=Study.Pairing.FIRST)
    pairs_per_prompt = forms.IntegerField(initial=1, min_value=1, max_value=50, required=False,
                                          help_text="With pairs drawn per prompt: pairs of runs shown per prompt "
                                                    "(several checkpoints, fewer labels than every pair)")
    overlap = forms.IntegerField(initial=1, min_value=1, max_value=20,
                                 help_text="Annotators per item; 2 or more gives agreement")
    sample_size = forms.IntegerField(required=False, min_value=1,
                                     help_text="Prompts to draw; empty for all (LIMA rated 50 responses)")
    seed = forms.IntegerField(initial=0, help_text="Draws the sample, the order and the sides")
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                   help_text="Shown to annotators above every item (Markdown)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["first_run"].queryset = finished_runs()
        self.fields["other_runs"].queryset = finished_runs()

    def runs(self):
        first = self.cleaned_data["first_run"]
        return [first] + [run for run in self.cleaned_data.get("other_runs") or [] if run.pk != first.pk]

    def clean(self):
        data = super().clean()
        if data.get("kind") in dict(protocols.choices()) and data.get("first_run") is not None:
            refused = protocols.get(data["kind"]).check_runs(self.runs())
            if refused:
                raise ValidationError(refused)
        return data


class PlaygroundForm(DecodingFields):
    endpoint = forms.ModelChoiceField(queryset=ModelEndpoint.objects.none(), label="Model endpoint",
                                      help_text="A served checkpoint or an external model")
    seed = forms.IntegerField(required=False, help_text="Empty: a new draw each time")
    turns = forms.JSONField(widget=forms.HiddenInput)
    field_order = ["endpoint"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].queryset = ModelEndpoint.objects.all()
        self.fields["max_new_tokens"].initial = 512  # a chat answer; LIMA's 2,048 for runs

    def clean_turns(self):
        turns = self.cleaned_data["turns"]
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise ValidationError("The conversation must be a non-empty list of texts.")
        if len(turns) % 2 == 0:
            raise ValidationError("The conversation must end with your message.")
        if not turns[-1].strip():
            raise ValidationError("Write a message first.")
        return turns


class LabelForm(forms.Form):
    label = forms.CharField(max_length=16)


class DraftForm(forms.Form):
    """Which prompt-only examples a checkpoint drafts answers for."""

    checkpoint = CheckpointChoice(queryset=Checkpoint.objects.none(), required=False,
                                  help_text="Or a model folder below")
    model_path = forms.CharField(required=False, label="Model folder",
                                 help_text="A checkpoint or model folder on the worker (e.g. var/models/tiny-demo)")
    source = forms.ChoiceField(required=False, help_text="Any source when empty")
    tag = forms.CharField(required=False, help_text="Only examples with this tag")
    split = forms.ChoiceField(required=False, choices=[("", "any split"), ("train", "train"), ("dev", "dev"),
                                                       ("test", "test"), ("unassigned", "unassigned")])
    limit = forms.IntegerField(min_value=1, max_value=2000, initial=100, help_text="Prompts drafted at most")
    max_new_tokens = forms.IntegerField(min_value=1, max_value=LIMA.max_new_tokens, initial=LIMA.max_new_tokens,
                                        help_text="LIMA: 2,048")

    def __init__(self, *args, **kwargs):
        from curation.models import source_kinds

        super().__init__(*args, **kwargs)
        self.fields["checkpoint"].queryset = checkpoints()
        self.fields["source"].choices = [("", "any source"), *source_kinds()]

    def clean(self):
        data = super().clean()
        if not data.get("checkpoint") and not (data.get("model_path") or "").strip():
            raise ValidationError("Choose a checkpoint or give a model folder.")
        return data

    def examples(self):
        from curation.models import Example

        data = self.cleaned_data
        examples = Example.objects.exclude(status="rejected")
        if data["source"]:
            examples = examples.filter(source__kind=data["source"])
        if data["split"]:
            examples = examples.filter(split=data["split"])
        if data["tag"].strip():
            wanted = data["tag"].strip()
            examples = examples.filter(pk__in=[pk for pk, tags in examples.values_list("pk", "tags") if wanted in (tags or [])])
        return examples

    def decoding(self):
        return DecodingSettings(max_new_tokens=self.cleaned_data["max_new_tokens"])
