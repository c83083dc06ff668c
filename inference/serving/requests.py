"""An OpenAI chat-completions request read into what the engine takes: the turns, LIMA's decoding with the
request's overrides, stop strings, streaming. Pure: no web framework, no torch."""
from __future__ import annotations

from dataclasses import dataclass, replace

from inference.engine.decoding import DecodingSettings

MAX_STOP_STRINGS = 4  # as OpenAI's API


class RequestError(ValueError):
    """A request the server refuses (400, or `status`), with the field it is about."""

    def __init__(self, message: str, param: str | None = None, status: int = 400):
        super().__init__(message)
        self.param = param
        self.status = status


@dataclass(frozen=True)
class ChatRequest:
    turns: list[str]  # LIMA's flat list, user first, ending with the user's
    settings: DecodingSettings
    seed: int | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    include_usage: bool = False


def _content(message, index) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        texts = [part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"]
        if len(texts) == len(content) and all(isinstance(t, str) for t in texts):
            return "".join(texts)
    raise RequestError(f"messages[{index}].content must be a text (or a list of text parts).", "messages")


def read_turns(messages) -> list[str]:
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list.", "messages")
    turns = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestError(f"messages[{index}] must be an object with 'role' and 'content'.", "messages")
        expected = "user" if index % 2 == 0 else "assistant"
        role = message.get("role")
        if role != expected:
            why = ("the LIMA chat format has only user and assistant turns, alternating from the user's"
                   if role not in ("user", "assistant") or index % 2 == 0 else "turns must alternate")
            raise RequestError(f"messages[{index}].role is {role!r}, expected {expected!r}: {why}.", "messages")
        turns.append(_content(message, index))
    if len(turns) % 2 == 0:
        raise RequestError("The conversation must end with a user message.", "messages")
    return turns


def _number(body, name, kind=float):
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not float(value).is_integer()):
        raise RequestError(f"'{name}' must be {'an integer' if kind is int else 'a number'}, got {value!r}.", name)
    return kind(value)


def read_request(body, served_model: str, defaults: DecodingSettings = DecodingSettings()) -> ChatRequest:
    """The request, or RequestError naming the field. Fields OpenAI has and we do not need are ignored; ones that
    would change the answer and cannot be honoured (n > 1, penalties, tools) are refused."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    model = body.get("model")
    if model not in (None, "", served_model):
        raise RequestError(f"The model {model!r} is not served here; this server serves {served_model!r}.",
                           "model", status=404)
    turns = read_turns(body.get("messages"))
    n = _number(body, "n", int)
    if n not in (None, 1):
        raise RequestError("Only n = 1 is served (one response per prompt, as in LIMA).", "n")
    for name in ("frequency_penalty", "presence_penalty"):
        if _number(body, name) not in (None, 0.0):
            raise RequestError(f"'{name}' is not supported; use 'repetition_penalty' (LIMA: 1.2).", name)
    if body.get("tools") or body.get("functions"):
        raise RequestError("Tools are not supported.", "tools")
    changes = {}
    temperature = _number(body, "temperature")
    if temperature is not None:
        if temperature < 0:
            raise RequestError("'temperature' must be >= 0.", "temperature")
        changes.update(do_sample=False) if temperature == 0 else changes.update(temperature=temperature, do_sample=True)
    top_p = _number(body, "top_p")
    if top_p is not None:
        changes["top_p"] = top_p
    penalty = _number(body, "repetition_penalty")
    if penalty is not None:
        changes["repetition_penalty"] = penalty
    max_tokens = _number(body, "max_completion_tokens", int)
    max_tokens = _number(body, "max_tokens", int) if max_tokens is None else max_tokens
    if max_tokens is not None:
        changes["max_new_tokens"] = max_tokens
    try:
        settings = replace(defaults, **changes)
    except ValueError as error:
        raise RequestError(str(error), next(iter(changes), None)) from None
    stop = body.get("stop")
    if stop is None:
        stop = ()
    elif isinstance(stop, str):
        stop = (stop,)
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop) and len(stop) <= MAX_STOP_STRINGS:
        stop = tuple(stop)
    else:
        raise RequestError(f"'stop' must be a text or a list of at most {MAX_STOP_STRINGS} texts.", "stop")
    seed = _number(body, "seed", int)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise RequestError("'stream' must be true or false.", "stream")
    options = body.get("stream_options") or {}
    include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    return ChatRequest(turns, settings, seed, tuple(s for s in stop if s), stream, include_usage)


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """The text before the first stop string, and whether one was found."""
    ends = [text.find(s) for s in stop if s in text]
    return (text[:min(ends)], True) if ends else (text, False)
