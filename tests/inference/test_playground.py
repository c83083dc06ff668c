"""The playground: a chat with a model endpoint (here the tiny checkpoint served by `manage.py serve`), the reply
streamed as the endpoint writes it; nothing is generated inside the web process."""
import json

import pytest
from django.http import StreamingHttpResponse

from inference.endpoints.models import ModelEndpoint
from inference.engine.generate import DecodingSettings
from tests.inference.builders import make_training_run, make_version
from tests.inference.serving import KEY_VAR

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkpoint(tiny_checkpoint):
    return make_training_run(make_version(), tiny_checkpoint, epochs=(5,)).checkpoints.get()


@pytest.fixture
def endpoint(served_tiny, checkpoint):
    url, _ = served_tiny
    return ModelEndpoint.objects.create(name="tiny run · epoch 5", base_url=url, model="tiny-chat",
                                        api_key_env=KEY_VAR, checkpoint=checkpoint)


def ask(client, endpoint, turns, **settings):
    form = {"endpoint": endpoint.pk, "turns": json.dumps(turns), "temperature": 0.7, "top_p": 0.9,
            "repetition_penalty": 1.2, "max_new_tokens": 24, "seed": 3, **settings}
    return client.post("/playground/stream/", form)


def test_the_reply_streams_in_pieces_and_is_what_the_served_model_writes(client_of, bob, endpoint, generator):
    answer = ask(client_of(bob), endpoint, ["How do I brew coffee?"])

    assert answer.status_code == 200 and isinstance(answer, StreamingHttpResponse)
    assert answer["Content-Type"].startswith("text/plain")
    pieces = [chunk.decode() for chunk in answer.streaming_content]
    expected = list(generator.stream(["How do I brew coffee?"], DecodingSettings(max_new_tokens=24), seed=3))
    assert "".join(pieces) == "".join(expected) and "".join(pieces).strip()
    assert len(pieces) > 1  # sent as it was written, not at the end


def test_a_multi_turn_chat_continues_the_conversation(client_of, alice, endpoint, generator):
    turns = ["What is the capital of France?", "Paris.", "Name three colours."]
    answer = ask(client_of(alice), endpoint, turns, greedy="on")

    text = b"".join(answer.streaming_content).decode()
    greedy = DecodingSettings(max_new_tokens=24, do_sample=False)
    assert text == "".join(generator.stream(turns, greedy))


def test_nothing_is_loaded_in_the_web_process(client_of, bob, endpoint):
    import sys

    b"".join(ask(client_of(bob), endpoint, ["Hello?"]).streaming_content)
    from inference import playground

    assert not hasattr(playground, "get_generator") and "inference.serving.app" not in sys.modules


def test_a_conversation_that_does_not_end_with_the_user_is_refused(client_of, bob, endpoint):
    answer = ask(client_of(bob), endpoint, ["Hi", "Hello!"])

    assert answer.status_code == 422
    assert "end with your message" in answer.json()["errors"]["turns"][0]


def test_an_endpoint_that_cannot_be_reached_gets_a_clear_error(client_of, bob, endpoint):
    endpoint.base_url = "http://127.0.0.1:9/v1"
    endpoint.save()

    answer = ask(client_of(bob), endpoint, ["Hi"])

    assert answer.status_code == 422
    message = answer.json()["errors"]["endpoint"][0]
    assert "tiny run · epoch 5" in message and "cannot be reached" in message


def test_the_playground_is_for_annotators_and_admins(client, client_of, alice, bob, charlie, endpoint):
    page = client_of(bob).get("/playground/")
    assert page.status_code == 200 and "tiny run · epoch 5" in page.content.decode()
    assert client_of(alice).get("/playground/").status_code == 200
    assert client_of(charlie).get("/playground/").status_code == 403
    assert client.get("/playground/").status_code == 302
    assert ask(client_of(charlie), endpoint, ["Hi"]).status_code == 403
    assert ask(client, endpoint, ["Hi"]).status_code == 302


def test_without_an_endpoint_the_page_says_where_to_make_one(client_of, alice):
    page = client_of(alice).get("/playground/").content.decode()
    assert "No model endpoint yet" in page and "/endpoints/" in page
