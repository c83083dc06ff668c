"""`manage.py serve`: the tiny checkpoint answers OpenAI's chat-completions API (JSON and streamed), lists itself,
requires its key; the endpoint client against it and against a scripted server that throttles and fails."""
import json
import time

import httpx2 as httpx
import pytest

from inference.endpoints.client import (
    EndpointError,
    EndpointParams,
    backoff_seconds,
    chat_completion,
    complete_many,
    list_models,
    retry_after_seconds,
    stream_chat_completion,
    turns_to_messages,
)
from inference.engine.decoding import DecodingSettings
from tests.inference.conftest import PROMPTS
from tests.inference.serving import KEY, KEY_VAR, completion, scripted

AUTH = {"Authorization": f"Bearer {KEY}"}
GREEDY = DecodingSettings(do_sample=False, max_new_tokens=24)


def ask(url, body, headers=AUTH):
    return httpx.post(f"{url}/chat/completions", json=body, headers=headers, timeout=120)


def user(text):
    return [{"role": "user", "content": text}]


def test_models_lists_the_checkpoint_and_the_key_is_required(served_tiny):
    url, _ = served_tiny
    assert httpx.get(f"{url}/models", timeout=30).status_code == 401
    assert httpx.get(f"{url}/models", headers={"Authorization": "Bearer wrong"}, timeout=30).status_code == 401
    assert ask(url, {"messages": user("Hi")}, headers={}).status_code == 401
    listed = httpx.get(f"{url}/models", headers=AUTH, timeout=30)
    assert listed.status_code == 200 and [m["id"] for m in listed.json()["data"]] == ["tiny-chat"]
    assert KEY not in listed.text


def test_a_completion_is_the_engines_answer_in_the_checkpoints_chat_format(served_tiny, generator):
    url, _ = served_tiny
    answer = ask(url, {"model": "tiny-chat", "messages": user("What is the capital of France?"),
                       "temperature": 0, "max_tokens": 24})

    assert answer.status_code == 200
    payload = answer.json()
    assert payload["object"] == "chat.completion" and payload["model"] == "tiny-chat"
    choice = payload["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "The capital of France is Paris."}
    assert choice["message"]["content"] == generator.generate([["What is the capital of France?"]], GREEDY)[0]
    ids = generator.generate_ids([["What is the capital of France?"]], GREEDY)[0]
    assert choice["finish_reason"] == "stop"  # EOT ended it
    assert payload["usage"]["completion_tokens"] == len(ids) and payload["usage"]["prompt_tokens"] > 3


def test_the_token_limit_cuts_an_answer_and_says_so(served_tiny):
    url, _ = served_tiny
    payload = ask(url, {"messages": user("How do I brew coffee?"), "temperature": 0, "max_tokens": 2}).json()

    assert payload["choices"][0]["finish_reason"] == "length"
    assert payload["usage"]["completion_tokens"] == 2


def test_the_streamed_form_sends_sse_chunks_ending_with_done(served_tiny, generator):
    url, _ = served_tiny
    body = {"messages": user("Name three colours."), "temperature": 0, "max_tokens": 24, "stream": True,
            "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{url}/chat/completions", json=body, headers=AUTH, timeout=120) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]

    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    text = "".join(choice["delta"].get("content", "") for c in chunks for choice in c["choices"])
    assert text == generator.generate([["Name three colours."]], GREEDY)[0] == "Red, green and blue."
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) > 1
    assert [choice["finish_reason"] for c in chunks for choice in c["choices"] if choice["finish_reason"]] == ["stop"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


def test_lima_decoding_is_the_default_and_a_request_overrides_it(served_tiny, generator):
    url, _ = served_tiny
    turns = ["Tell me a story about a cat."]
    sampled = DecodingSettings(max_new_tokens=20)  # LIMA's p 0.9, temperature 0.7, penalty 1.2
    default = ask(url, {"messages": user(turns[0]), "max_tokens": 20, "seed": 5}).json()
    expected = generator.generate([turns], sampled, seed=5, batch_size=1)[0]
    assert default["choices"][0]["message"]["content"] == expected
    hotter = ask(url, {"messages": user(turns[0]), "max_tokens": 20, "seed": 5, "temperature": 1.5,
                       "top_p": 1.0, "repetition_penalty": 1.0}).json()
    custom = DecodingSettings(max_new_tokens=20, temperature=1.5, top_p=1.0, repetition_penalty=1.0)
    assert hotter["choices"][0]["message"]["content"] == generator.generate([turns], custom, seed=5, batch_size=1)[0]


@pytest.mark.parametrize("body, status, words", [
    ({"messages": [{"role": "system", "content": "Be brief."}, *user("Hi")]}, 400, "only user and assistant"),
    ({"messages": [*user("Hi"), {"role": "assistant", "content": "Hello"}]}, 400, "end with a user message"),
    ({"messages": user("Hi"), "model": "gpt-4"}, 404, "not served here"),
    ({"messages": user("Hi"), "n": 2}, 400, "n = 1"),
    ({"messages": user("Hi"), "top_p": 0}, 400, "top_p"),
    ({"messages": "Hi"}, 400, "messages"),
])
def test_a_request_the_server_cannot_honour_is_refused_naming_the_field(served_tiny, body, status, words):
    url, _ = served_tiny
    answer = ask(url, body)
    assert answer.status_code == status and words in answer.json()["error"]["message"]


def test_the_client_asks_streams_and_lists_through_the_served_checkpoint(served_tiny, generator):
    url, _ = served_tiny
    params = EndpointParams("tiny", url, "tiny-chat", api_key_env=KEY_VAR)
    assert list_models(params) == ["tiny-chat"]
    turns = ["What is the capital of France?"]
    result = chat_completion(params, turns_to_messages(turns), max_tokens=24, temperature=0)
    assert (result.text, result.finish_reason) == ("The capital of France is Paris.", "stop")
    assert result.completion_tokens == len(generator.generate_ids([turns], GREEDY)[0])
    stream = stream_chat_completion(params, turns_to_messages(turns), max_tokens=24, temperature=0)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == result.text
    assert stream.result.finish_reason == "stop" and stream.result.completion_tokens == result.completion_tokens


def test_many_requests_in_flight_are_all_answered(served_tiny, generator):
    url, _ = served_tiny
    params = EndpointParams("tiny", url, "tiny-chat", api_key_env=KEY_VAR, concurrency=4)
    results = {}
    asked = complete_many(params, {i: turns_to_messages(p) for i, p in enumerate(PROMPTS * 2)},
                          on_result=results.__setitem__, max_tokens=24, temperature=0)
    assert asked == 8 and sorted(results) == list(range(8))
    assert all(not isinstance(r, EndpointError) and r.text and r.finish_reason in ("stop", "length")
               for r in results.values())


def test_a_missing_key_variable_is_named_not_guessed(served_tiny, monkeypatch):
    url, _ = served_tiny
    monkeypatch.delenv(KEY_VAR)
    with pytest.raises(EndpointError, match=f"{KEY_VAR}, which is not set"):
        chat_completion(EndpointParams("tiny", url, "tiny-chat", api_key_env=KEY_VAR), user("Hi"))


# --- Retries, against a real (scripted) HTTP server ---------------------------------------------------------


def test_429_then_503_are_retried_and_the_third_answer_is_taken():
    replies = [(429, {"Retry-After": "0"}, {"error": {"message": "slow down"}}),
               (503, {}, {"error": {"message": "overloaded"}}),
               (200, {}, completion("Paris.", prompt_tokens=9, completion_tokens=3))]
    with scripted(lambda body, n, headers: replies[min(n, 3) - 1]) as server:
        result = chat_completion(EndpointParams("flaky", server.url, "scripted"), user("Capital of France?"),
                                 max_tokens=8)
    assert (result.text, result.finish_reason, result.attempts) == ("Paris.", "stop", 3)
    assert (result.prompt_tokens, result.completion_tokens) == (9, 3)
    assert len(server.bodies) == 3 and server.bodies[0]["max_tokens"] == 8


def test_an_endpoint_that_keeps_failing_gives_up_naming_itself_and_never_the_key(monkeypatch):
    monkeypatch.setenv("FLAKY_KEY", KEY)
    echo = lambda body, n, headers: (500, {}, {"error": {"message": f"bad auth {headers.get('Authorization')}"}})  # noqa: E731
    with scripted(echo) as server:
        with pytest.raises(EndpointError) as raised:
            chat_completion(EndpointParams("flaky", server.url, "scripted", api_key_env="FLAKY_KEY", max_retries=2),
                            user("Hi"))
    message = str(raised.value)
    assert "endpoint 'flaky'" in message and server.url in message and "HTTP 500" in message
    assert "gave up after 3 attempts" in message and len(server.bodies) == 3
    assert KEY not in message and "***" in message
    assert server.headers_seen[0]["Authorization"] == f"Bearer {KEY}"  # it was sent, only not shown


def test_a_refused_key_is_not_retried():
    with scripted(lambda body, n, headers: (401, {}, {"error": {"message": "Incorrect API key"}})) as server:
        with pytest.raises(EndpointError, match="HTTP 401 .the API key was refused.: Incorrect API key"):
            chat_completion(EndpointParams("strict", server.url, "scripted"), user("Hi"))
    assert len(server.bodies) == 1


def test_retry_after_is_respected_and_backoff_grows_with_jitter():
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: at once
    assert backoff_seconds(1, retry_after=2.5) >= 2.5
    waits = [backoff_seconds(attempt) for attempt in (1, 2, 3, 4, 5, 6) for _ in range(50)]
    assert all(0 <= w <= 30 for w in waits) and len(set(waits)) > 100  # jittered, capped
    assert max(backoff_seconds(6) for _ in range(50)) > max(backoff_seconds(1) for _ in range(50))


def test_a_timeout_is_retried_then_reported_with_the_endpoints_name():
    def slow(body, n, headers):
        time.sleep(1.5)
        return 200, {}, completion("late")

    with scripted(slow) as server:
        with pytest.raises(EndpointError, match=r"endpoint 'slow' .* did not answer within 0.5 s"):
            chat_completion(EndpointParams("slow", server.url, "scripted", timeout=0.5, max_retries=1), user("Hi"))
    assert len(server.bodies) == 2
