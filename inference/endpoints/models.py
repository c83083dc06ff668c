"""A model endpoint: an OpenAI-compatible server a generation run, the playground or a judge asks instead of a
local checkpoint. The API key is never stored: only the name of the environment variable that holds it (in the
worker's and the web server's environment)."""
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models

from core.jobs.models import Job

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_env_name(value):
    if value and not ENV_NAME.match(value):
        raise ValidationError(f"{value!r} is not an environment variable name (letters, digits and _; "
                              "give the variable's NAME, never the key itself).")


class ModelEndpoint(models.Model):
    name = models.CharField(max_length=200, unique=True, help_text="How pages and results name it (e.g. GPT-4)")
    base_url = models.CharField(max_length=500, validators=[URLValidator(schemes=["http", "https"])],
                                help_text="The server's address, e.g. https://api.openai.com/v1 or "
                                          "http://127.0.0.1:8001/v1")
    model = models.CharField(max_length=200, help_text="The model name the server knows it by (the request's 'model')")
    api_key_env = models.CharField(
        max_length=100, blank=True, validators=[validate_env_name],
        help_text="The NAME of the environment variable holding the API key (e.g. OPENAI_API_KEY); empty: no key",
    )
    concurrency = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1), MaxValueValidator(256)],
                                                   help_text="Requests in flight at once")
    timeout = models.FloatField(default=120.0, validators=[MinValueValidator(1.0)],
                                help_text="Seconds a request may take before it is retried")
    checkpoint = models.ForeignKey("training.Checkpoint", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="endpoints", help_text="The checkpoint it serves, when it is ours")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.model} at {self.base_url})"

    def params(self):
        from inference.endpoints.client import EndpointParams

        return EndpointParams(name=self.name, base_url=self.base_url, model=self.model, api_key_env=self.api_key_env,
                              timeout=self.timeout, max_retries=settings.ENDPOINT_MAX_RETRIES,
                              concurrency=self.concurrency)

    @property
    def server(self):
        """The running ModelServer that registered this endpoint, if any."""
        return self.servers.filter(status__in=Job.ACTIVE).first()


class ModelServer(Job):
    """A checkpoint kept served on a gpu worker (`manage.py serve` in a subprocess) while a study needs it;
    up, it is registered as a ModelEndpoint; stopping it (cancel) takes the endpoint away."""

    noun = "model server"
    progress_unit = ""
    reaped_note = " Its endpoint was removed."

    checkpoint = models.ForeignKey("training.Checkpoint", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="servers")
    model_path = models.CharField(max_length=1000)
    name = models.CharField(max_length=200, help_text="The endpoint's name while it is up")
    host = models.CharField(max_length=200, default="127.0.0.1")
    port = models.PositiveIntegerField(default=0, help_text="0: a free port, chosen when it starts")
    api_key_env = models.CharField(max_length=100, blank=True, validators=[validate_env_name])
    endpoint = models.ForeignKey(ModelEndpoint, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="servers")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Model server #{self.pk} {self.name} ({self.status})"
