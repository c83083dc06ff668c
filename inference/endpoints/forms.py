"""Forms of the model-endpoints page: an endpoint (its key only by the variable's name), a server to start."""
import os

from django import forms
from django.core.exceptions import ValidationError

from inference.endpoints.models import ModelEndpoint, validate_env_name


class EndpointForm(forms.ModelForm):
    class Meta:
        model = ModelEndpoint
        fields = ["name", "base_url", "model", "api_key_env", "concurrency", "timeout"]
        labels = {"base_url": "Base URL", "api_key_env": "API key variable"}

    def clean_api_key_env(self):
        value = self.cleaned_data["api_key_env"].strip()
        if len(value) > 64:  # someone pasted the key itself: never keep it
            raise ValidationError("Give the NAME of the environment variable that holds the key (e.g. "
                                  "OPENAI_API_KEY), never the key itself.")
        validate_env_name(value)
        return value


class ServerForm(forms.Form):
    checkpoint = forms.ModelChoiceField(queryset=None, required=False, help_text="Or a model folder below")
    model_path = forms.CharField(required=False, max_length=1000, label="…or a model folder on the gpu worker")
    name = forms.CharField(required=False, max_length=200, help_text="The endpoint's name; default: the checkpoint's")
    api_key_env = forms.CharField(required=False, max_length=100, label="API key variable",
                                  validators=[validate_env_name],
                                  help_text="Optional: the NAME of a variable set on the gpu worker and the web server")

    def __init__(self, *args, **kwargs):
        from inference.forms import CheckpointChoice, checkpoints

        super().__init__(*args, **kwargs)
        self.fields["checkpoint"] = CheckpointChoice(queryset=checkpoints(), required=False,
                                                     help_text="Or a model folder below")
        self.order_fields(["checkpoint", "model_path", "name", "api_key_env"])

    def clean(self):
        data = super().clean()
        if bool(data.get("checkpoint")) == bool((data.get("model_path") or "").strip()):
            raise ValidationError("Choose a checkpoint or give a model folder (one of the two).")
        return data


def key_is_set(endpoint) -> bool | None:
    """Whether this process sees the endpoint's key variable (None: it needs no key). Never the value."""
    if not endpoint.api_key_env:
        return None
    return bool(os.environ.get(endpoint.api_key_env))
