"""The playground asks a model endpoint (a checkpoint served by `manage.py serve` or its job, or an external
model): nothing is loaded or generated inside the web process. The reply is streamed from the endpoint to the
browser as it comes, within the web request; PLAYGROUND_TIMEOUT_SECONDS bounds the wait for each piece."""
from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings as django_settings

from inference.endpoints.client import stream_chat_completion, turns_to_messages
from inference.endpoints.generation import decoding_options


def stream_reply(endpoint, turns: list[str], settings, seed=None) -> Iterator[str]:
    """Text pieces of the endpoint's reply to `turns`. Connecting (and its retries) happens at the call, so an
    unreachable endpoint raises EndpointError before anything is sent; closing the iterator ends the request."""
    options = decoding_options(settings.as_dict(), endpoint, seed)
    return stream_chat_completion(endpoint, turns_to_messages(turns), timeout=django_settings.PLAYGROUND_TIMEOUT_SECONDS,
                                  retries=1, **options)
