"""Forms of the annotators' workspace. Conversations arrive as repeated `turn` fields, user first."""
from django import forms
from django.core.exceptions import ValidationError

from core import labels
from curation.models import Example, Review
from curation.services import normalize_turns
from curation.sources import plugins
from curation.workspace.figures import SPLITS

MAX_TAGS = 20

# The reasons offered when rejecting, in the order of the keyboard picker (1–8).
# Their words are core.labels' (the same words on the history and in the API); "other" asks for the comment.
REJECT_REASONS = [(key, "Other (say why)" if key == "other" else labels.label(key)) for key in labels.REVIEW_REASONS]


def _clean_turn(text):
    # Trailing spaces and blank lines go; leading spaces stay (an indented code block starts with them).
    return text.replace("\r\n", "\n").strip("\n").rstrip()


def parse_tags(value):
    tags = list(dict.fromkeys(tag.strip() for tag in (value or "").split(",") if tag.strip()))
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"At most {MAX_TAGS} tags.")
    return tags


class ConversationForm(forms.Form):
    """The turns of a conversation as `turn` fields; cleaned_data["turns"] is LIMA's flat list."""

    allow_lone_prompt = True

    def __init__(self, data=None, *args, initial_turns=None, **kwargs):
        super().__init__(data, *args, **kwargs)
        if data is not None:
            self.turn_texts = [_clean_turn(text) for text in data.getlist("turn")]
        else:
            self.turn_texts = list(initial_turns or ["", ""])

    def clean(self):
        cleaned = super().clean()
        texts = list(self.turn_texts)
        # One exchange with an empty answer is a prompt on its own (LIMA's test prompts have no answer).
        if self.allow_lone_prompt and len(texts) == 2 and texts[0].strip() and not texts[1].strip():
            texts = texts[:1]
        try:
            cleaned["turns"] = normalize_turns(texts)
        except ValidationError as error:
            for message in error.message_dict.get("turns", error.messages):
                self.add_error(None, message)
        return cleaned


class WriteForm(ConversationForm):
    domain = forms.CharField(max_length=200, required=False)
    split = forms.ChoiceField(choices=Example.Split.choices, initial=Example.Split.TRAIN)
    tags = forms.CharField(required=False, max_length=1000, help_text="Comma-separated")

    def clean_tags(self):
        return parse_tags(self.cleaned_data["tags"])


class EditForm(ConversationForm):
    allow_lone_prompt = False  # an edit keeps the shape it had; emptying an answer is a mistake, not a prompt
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    domain = forms.CharField(max_length=200, required=False)
    tags = forms.CharField(required=False, max_length=1000)

    def clean_tags(self):
        return parse_tags(self.cleaned_data["tags"])


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Review.Decision.choices)
    reason = forms.ChoiceField(choices=[("", "—"), *REJECT_REASONS], required=False)
    comment = forms.CharField(required=False, max_length=2000)
    version = forms.IntegerField(min_value=1)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == Review.Decision.REJECT and not cleaned.get("reason"):
            self.add_error("reason", "Pick a reason for the rejection.")
        if cleaned.get("reason") == "other" and not cleaned.get("comment", "").strip():
            self.add_error("comment", "Say why in a few words.")
        return cleaned


class SplitForm(forms.Form):
    split = forms.ChoiceField(choices=Example.Split.choices)
    version = forms.IntegerField(min_value=1)


class RevertForm(forms.Form):
    number = forms.IntegerField(min_value=1)
    version = forms.IntegerField(min_value=1)


def target_field_name(split, bucket):
    return f"target__{split}__{bucket}"


class TargetsForm(forms.Form):
    """One number per (split, source group): the dashboard's composition targets."""

    def __init__(self, *args, targets=None, **kwargs):
        super().__init__(*args, **kwargs)
        targets = targets or {}
        for split in SPLITS:
            for bucket, label in plugins.buckets().items():
                self.fields[target_field_name(split, bucket)] = forms.IntegerField(
                    min_value=0, max_value=1_000_000, required=False, label=f"{split} · {label}",
                    initial=targets.get((split, bucket), 0),
                )

    def targets(self):
        return {
            (split, bucket): self.cleaned_data.get(target_field_name(split, bucket)) or 0
            for split in SPLITS
            for bucket in plugins.buckets()
        }
