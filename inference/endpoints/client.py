"""An OpenAI-compatible chat-completions client: one request, a stream, or many at once (bounded), retried.

    params = EndpointParams(name="gpt-4", base_url="https://api.example.com/v1", model="gpt-4",
                            api_key_env="OPENAI_API_KEY")
    result = chat_completion(params, [{"role": "user", "content": "Hi"}], max_tokens=64)
    result.text, result.finish_reason, result.prompt_tokens, result.completion_tokens

    for piece in stream_chat_completion(params, messages): ...   # text pieces; .result once it ends

    complete_many(params, {"key": messages, ...}, on_result=store, concurrency=8)

Retried with exponential backoff and full jitter on 429, 5xx, timeouts and refused connections (a server that is
starting); a Retry-After header is respected. Every error names the endpoint and its address, never the API key:
the key is read from the named environment variable at the moment of the request and is scrubbed from any text
an error carries. No Django here (the engine, the commands and the web app all use it).
"""
from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx2 as httpx

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
BACKOFF_BASE = 0.5  # seconds: the first retry waits up to this, then 2x each time (full jitter)
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 120.0
ERROR_BODY_CHARS = 300


class EndpointError(Exception):
    """A request to an endpoint failed for good; the message names the endpoint, never its key."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True)
class EndpointParams:
    """What a request needs; a ModelEndpoint row gives one with .params()."""

    name: str
    base_url: str
    model: str
    api_key_env: str = ""  # the NAME of the environment variable holding the key; empty: no key
    timeout: float = 120.0  # seconds for one request (connect and each read)
    max_retries: int = 5
    concurrency: int = 4  # requests in flight at once in complete_many

    def __repr__(self):  # never the key (it is not here anyway); the variable's name is fine
        return f"EndpointParams({self.name!r}, {self.base_url!r}, model={self.model!r})"

    @property
    def label(self) -> str:
        return f"endpoint {self.name!r} ({self.base_url})"

    def api_key(self) -> str:
        if not self.api_key_env:
            return ""
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise EndpointError(f"The {self.label} reads its API key from the environment variable "
                                f"{self.api_key_env}, which is not set in this process.")
        return key

    def url(self, path: str) -> str:
        base = self.base_url.rstrip("/")
        if not base.endswith("/v1"):
            base += "/v1"
        return base + path


@dataclass
class Completion:
    text: str
    finish_reason: str  # "stop" (ended by itself or a stop string), "length" (cut at max_tokens), or the server's
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str = ""
    attempts: int = 1  # requests it took (1: no retry)


def as_params(endpoint) -> EndpointParams:
    """An EndpointParams from itself or from anything with .params() (a ModelEndpoint)."""
    if isinstance(endpoint, EndpointParams):
        return endpoint
    if hasattr(endpoint, "params"):
        return endpoint.params()
    raise TypeError(f"not an endpoint: {type(endpoint).__name__}")


def turns_to_messages(turns: list[str]) -> list[dict]:
    """LIMA's flat list of turns (user first) as chat messages."""
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]


def _scrub(text: str, params: EndpointParams) -> str:
    try:
        key = params.api_key()
    except EndpointError:
        return text
    return text.replace(key, "***") if key else text


def _headers(params: EndpointParams) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    key = params.api_key()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _body(params, messages, *, max_tokens, temperature, top_p, stop, seed, extra, stream) -> dict:
    body = {"model": params.model, "messages": list(messages)}
    for name, value in (("max_tokens", max_tokens), ("temperature", temperature), ("top_p", top_p),
                        ("stop", stop), ("seed", seed)):
        if value is not None:
            body[name] = value
    body.update(extra or {})
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """How long to wait before retry number `attempt` (1, 2, ...): full jitter over an exponential cap, or
    what the server asked for when it said (Retry-After), whichever is longer."""
    jittered = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))
    if retry_after is not None:
        return max(min(retry_after, RETRY_AFTER_CAP), jittered)
    return jittered


def _http_error(params, response) -> EndpointError:
    try:
        detail = response.read().decode("utf-8", "replace")
    except Exception:
        detail = ""
    try:
        payload = json.loads(detail)
        error = payload.get("error", payload) if isinstance(payload, dict) else payload
        detail = error.get("message", detail) if isinstance(error, dict) else str(error)
    except ValueError:
        pass
    detail = _scrub(" ".join(str(detail).split())[:ERROR_BODY_CHARS], params)
    reason = {401: "the API key was refused", 403: "access was refused", 404: "no such path or model",
              429: "too many requests"}.get(response.status_code, response.reason_phrase or "error")
    return EndpointError(
        f"The {params.label} answered HTTP {response.status_code} ({reason})" + (f": {detail}" if detail else "."),
        status=response.status_code, retryable=response.status_code in RETRY_STATUSES or response.status_code >= 500,
    )


def _with_retries(params: EndpointParams, send: Callable[[int], object], retries: int | None = None,
                  sleep: Callable[[float], None] = time.sleep):
    """send(attempt) until it returns; retried on EndpointError(retryable) with backoff."""
    retries = params.max_retries if retries is None else retries
    attempt = 0
    while True:
        attempt += 1
        try:
            return send(attempt)
        except EndpointError as error:
            if not error.retryable or attempt > retries:
                if attempt > 1 and error.retryable:
                    raise EndpointError(f"{error} (gave up after {attempt} attempts)", status=error.status) from None
                raise
            sleep(backoff_seconds(attempt, getattr(error, "retry_after", None)))


def _transport_error(params, error: Exception) -> EndpointError:
    if isinstance(error, httpx.TimeoutException):
        return EndpointError(f"The {params.label} did not answer within {params.timeout:g} s.", retryable=True)
    if isinstance(error, httpx.ConnectError):
        return EndpointError(f"The {params.label} cannot be reached (connection refused or no such host).",
                             retryable=True)
    return EndpointError(f"The {params.label} failed: {_scrub(str(error), params)}", retryable=True)


def _client(params, timeout) -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(timeout if timeout is not None else params.timeout))


def _raise_for(params, response):
    if response.status_code >= 400:
        error = _http_error(params, response)
        error.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        raise error


def _parse_completion(params, payload, attempts) -> Completion:
    try:
        choice = payload["choices"][0]
        message = choice.get("message") or {}
        text = message.get("content")
        if text is None:
            text = choice.get("text", "")
        usage = payload.get("usage") or {}
        return Completion(
            text=text or "", finish_reason=choice.get("finish_reason") or "", model=payload.get("model", ""),
            prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
            attempts=attempts,
        )
    except (KeyError, IndexError, TypeError, AttributeError):
        raise EndpointError(f"The {params.label} answered something that is not a chat completion: "
                            f"{_scrub(json.dumps(payload)[:ERROR_BODY_CHARS], params)}") from None


def chat_completion(endpoint, messages, *, max_tokens: int | None = None, temperature: float | None = None,
                    top_p: float | None = None, stop: list[str] | str | None = None, seed: int | None = None,
                    timeout: float | None = None, extra: Mapping | None = None, retries: int | None = None,
                    client: httpx.Client | None = None) -> Completion:
    """One chat completion (retried); raises EndpointError. `extra`: more body fields (repetition_penalty)."""
    params = as_params(endpoint)
    body = _body(params, messages, max_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=stop,
                 seed=seed, extra=extra, stream=False)
    own = client is None
    client = client or _client(params, timeout)
    try:
        def send(attempt):
            try:
                response = client.post(params.url("/chat/completions"), json=body, headers=_headers(params))
            except httpx.HTTPError as error:
                raise _transport_error(params, error) from None
            _raise_for(params, response)
            try:
                payload = response.json()
            except ValueError:
                raise EndpointError(f"The {params.label} answered with something that is not JSON.") from None
            return _parse_completion(params, payload, attempt)

        return _with_retries(params, send, retries)
    finally:
        if own:
            client.close()


@dataclass
class ChatStream:
    """Text pieces as the endpoint writes them; `result` (a Completion) once the stream has ended."""

    pieces: Iterator[str]
    result: Completion | None = None
    _close: Callable[[], None] = field(default=lambda: None, repr=False)

    def __iter__(self):
        return self.pieces

    def __next__(self):
        return next(self.pieces)

    def close(self):
        self.pieces.close()
        self._close()


def stream_chat_completion(endpoint, messages, *, max_tokens: int | None = None, temperature: float | None = None,
                           top_p: float | None = None, stop: list[str] | str | None = None, seed: int | None = None,
                           timeout: float | None = None, extra: Mapping | None = None,
                           retries: int | None = None) -> ChatStream:
    """A streamed chat completion (SSE `data:` chunks up to `[DONE]`). Connecting is retried; once text has
    begun to arrive a failure is raised as it is (a retry would repeat what was already shown)."""
    params = as_params(endpoint)
    body = _body(params, messages, max_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=stop,
                 seed=seed, extra=extra, stream=True)
    client = _client(params, timeout)

    def connect(attempt):
        try:
            request = client.build_request("POST", params.url("/chat/completions"), json=body,
                                           headers={**_headers(params), "Accept": "text/event-stream"})
            response = client.send(request, stream=True)
        except httpx.HTTPError as error:
            raise _transport_error(params, error) from None
        if response.status_code >= 400:
            try:
                _raise_for(params, response)
            finally:
                response.close()
        return response, attempt

    try:
        response, attempts = _with_retries(params, connect, retries)
    except BaseException:
        client.close()
        raise
    stream = ChatStream(iter(()), _close=lambda: (response.close(), client.close()))

    def pieces():
        text, finish, usage, model = [], "", {}, ""
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise EndpointError(f"The {params.label} sent a stream chunk that is not JSON.") from None
                if isinstance(chunk, dict) and chunk.get("error"):
                    message = chunk["error"].get("message") if isinstance(chunk["error"], dict) else chunk["error"]
                    raise EndpointError(f"The {params.label} failed mid-stream: {_scrub(str(message), params)}")
                model = chunk.get("model", model)
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    finish = choice.get("finish_reason") or finish
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        text.append(piece)
                        yield piece
        except httpx.HTTPError as error:
            raise _transport_error(params, error) from None
        finally:
            response.close()
            client.close()
        stream.result = Completion("".join(text), finish, usage.get("prompt_tokens"),
                                   usage.get("completion_tokens"), model, attempts)

    stream.pieces = pieces()
    return stream


def list_models(endpoint, *, timeout: float | None = 10.0) -> list[str]:
    """GET /v1/models: the ids the endpoint serves (the admin page's "test connection"). Not retried."""
    params = as_params(endpoint)
    try:
        with _client(params, timeout) as client:
            response = client.get(params.url("/models"), headers=_headers(params))
            _raise_for(params, response)
            payload = response.json()
    except httpx.HTTPError as error:
        raise _transport_error(params, error) from None
    except ValueError:
        raise EndpointError(f"The {params.label} answered /v1/models with something that is not JSON.") from None
    try:
        return [str(row["id"]) for row in payload["data"]]
    except (KeyError, TypeError):
        raise EndpointError(f"The {params.label} answered /v1/models without a 'data' list of models.") from None


def complete_many(endpoint, requests: Mapping[object, list] | Iterable[tuple[object, list]], *,
                  on_result: Callable[[object, Completion | EndpointError], None],
                  concurrency: int | None = None, should_stop: Callable[[], bool] | None = None,
                  **options) -> int:
    """Ask for every (key, messages), at most `concurrency` in flight (the endpoint's own limit by default).

    on_result(key, Completion or EndpointError) is called in the caller's thread as each ends, in the order they
    end, so it may write to the database. should_stop() is asked between results: when it turns true no more are
    sent (those in flight are awaited). Returns how many were asked."""
    params = as_params(endpoint)
    items = iter(requests.items() if isinstance(requests, Mapping) else requests)
    limit = max(1, concurrency or params.concurrency)
    local = threading.local()

    def ask(messages):
        if not hasattr(local, "client"):
            local.client = _client(params, options.get("timeout"))
            clients.append(local.client)
        return chat_completion(params, messages, client=local.client, **options)

    clients: list = []
    asked = 0
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix=f"endpoint-{params.name}") as pool:
        running = {}
        try:
            while True:
                while len(running) < limit and not (should_stop and should_stop()):
                    try:
                        key, messages = next(items)
                    except StopIteration:
                        break
                    running[pool.submit(ask, messages)] = key
                    asked += 1
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    key = running.pop(future)
                    try:
                        outcome = future.result()
                    except EndpointError as error:
                        outcome = error
                    on_result(key, outcome)
        finally:
            for future in running:
                future.cancel()
    for client in clients:
        client.close()
    return asked
