"""Verbs of model endpoints: test one, start and stop a model server."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings

from core.jobs.runner import JobStateError, cancel, enqueue
from inference.endpoints.client import EndpointError, list_models
from inference.endpoints.models import ModelEndpoint, ModelServer


class EndpointActionError(ValueError):
    """Refused as asked; the message says why."""


def test_connection(endpoint: ModelEndpoint) -> str:
    """GET /v1/models; a sentence for the page either way (never the key)."""
    try:
        served = list_models(endpoint, timeout=min(endpoint.timeout, 15.0))
    except EndpointError as error:
        return f"Failed: {error}"
    where = "is served" if endpoint.model in served else "is NOT among them"
    shown = ", ".join(served[:10]) + (f" and {len(served) - 10} more" if len(served) > 10 else "")
    return f"Connected: {endpoint.name} serves {shown or 'no model'}; {endpoint.model!r} {where}."


def start_model_server(*, checkpoint=None, model_path: str = "", name: str = "", api_key_env: str = "",
                       user=None) -> ModelServer:
    if checkpoint is not None:
        model_path = model_path or checkpoint.path
        name = name or f"{checkpoint.run.title} · epoch {checkpoint.epoch}"
    if not model_path or not Path(model_path).is_dir():
        raise EndpointActionError(f"{model_path or '(none)'}: no such model folder.")
    name = (name or Path(model_path).resolve().name)[:200]
    if ModelServer.objects.filter(name=name, status__in=ModelServer.ACTIVE).exists():
        raise EndpointActionError(f"A server named {name!r} is already up or starting.")
    external = ModelEndpoint.objects.filter(name=name).exclude(servers__isnull=False).first()
    if external is not None:
        raise EndpointActionError(f"An endpoint named {name!r} exists already: give the server another name.")
    server = ModelServer.objects.create(checkpoint=checkpoint, model_path=str(model_path), name=name,
                                        host=settings.SERVE_HOST, api_key_env=api_key_env,
                                        created_by=user if user is not None and user.is_authenticated else None)
    return enqueue(server)


def stop_model_server(server: ModelServer) -> ModelServer:
    try:
        return cancel(server)
    except JobStateError as error:
        raise EndpointActionError(str(error)) from None
