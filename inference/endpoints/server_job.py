"""The model-server job: a checkpoint kept served on a gpu worker while a study needs it.

`manage.py serve` runs as the job's engine subprocess (core.jobs.engine: its own process group, dies with the
worker, stopped by a cancel). Once /v1/models answers, the server is registered as a ModelEndpoint; the job ends
only when it is stopped (cancel: the endpoint page's Stop) or the server dies, and either way its endpoint is
removed (the kind's discard, which the reaper also runs for a worker that died).
"""
from __future__ import annotations

import os
import socket
import sys
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

from core.jobs.context import JobFailed
from core.jobs.engine import run_engine
from core.jobs.kinds import job_kind
from inference.endpoints.client import EndpointError, EndpointParams, list_models
from inference.endpoints.models import ModelEndpoint, ModelServer

READY_TIMEOUT = 900.0  # seconds a server may take to load its checkpoint (a big one on vLLM takes minutes)


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def serve_command(server: ModelServer, port: int) -> list[str]:
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "serve", server.model_path, "--host", server.host,
               "--port", str(port), "--name", server.name]
    if server.api_key_env:
        command += ["--api-key-env", server.api_key_env]  # the variable's name; the key stays in the environment
    return command


def url_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def register(server: ModelServer, base_url: str) -> ModelEndpoint:
    endpoint, _ = ModelEndpoint.objects.update_or_create(
        name=server.name, defaults={"base_url": base_url, "model": server.name, "api_key_env": server.api_key_env,
                                    "checkpoint": server.checkpoint},
    )
    ModelServer.objects.filter(pk=server.pk).update(endpoint=endpoint)
    return endpoint


def remove_endpoint(server: ModelServer) -> None:
    server.refresh_from_db(fields=["endpoint"])
    if server.endpoint_id:
        ModelEndpoint.objects.filter(pk=server.endpoint_id).delete()


def _wait_until_up(server, context, params, stop: threading.Event, state: dict):
    """Poll /v1/models until the server answers, then register it (a thread of its own: the job's thread follows
    the engine's output)."""
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                list_models(params, timeout=5)
            except EndpointError as error:
                if error.status == 401:  # up, and guarding its key: that is an answer too
                    pass
                else:
                    stop.wait(1.0)
                    continue
            state["endpoint"] = register(server, params.base_url)
            context.progress(phase="serving")
            return
        state["timeout"] = not stop.is_set()
    finally:
        close_old_connections()
        connection.close()


@job_kind(ModelServer, queue="gpu", discard=remove_endpoint)
def run_model_server(server, context):
    port = server.port or free_port(server.host)
    base_url = f"http://{url_host(server.host)}:{port}/v1"
    context.progress(phase="loading", port=port)
    params = EndpointParams(server.name, base_url, server.name, api_key_env=server.api_key_env)
    stop, state = threading.Event(), {}
    watcher = threading.Thread(target=_wait_until_up, args=(server, context, params, stop, state), daemon=True,
                               name=f"model-server-{server.pk}")

    def on_start(_process):
        watcher.start()

    def on_event(event):
        pass

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    try:
        outcome = run_engine(serve_command(server, port), context, on_event=on_event,
                             on_start=on_start, env=env, cwd=settings.BASE_DIR)
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join(timeout=10)
    context.check()  # stopped from the page (cancelled), or lost: the server was stopped
    if state.get("timeout"):
        raise JobFailed(f"The server did not answer within {READY_TIMEOUT:g} s of starting.")
    raise JobFailed("The server stopped by itself: " + outcome.failure())
