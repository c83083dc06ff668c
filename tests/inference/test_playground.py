"""The playground: a chat with a checkpoint, the reply streamed as the model writes it."""
import json

import pytest
from django.http import StreamingHttpResponse

from inference import playground
from inference.engine.generate import DecodingSettings
from tests.inference.builders import make_training_run, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkpoint(tiny_checkpoint):
    return make_training_run(make_version(), tiny_checkpoint, epochs=(5,)).checkpoints.get()


def ask(client, checkpoint, turns, **settings):
    form = {"checkpoint": checkpoint.pk, "turns": json.dumps(turns), "temperature": 0.7, "top_p": 0.9,
            "repetition_penalty": 1.2, "max_new_tokens": 24, "seed": 3, **settings}
    return client.post("/playground/stream/", form)


def test_the_reply_streams_in_pieces_and_is_what_the_model_writes(client_of, bob, checkpoint, generator):
    answer = ask(client_of(bob), checkpoint, ["How do I brew coffee?"])

    assert answer.status_code == 200 and isinstance(answer, StreamingHttpResponse)
    assert answer["Content-Type"].startswith("text/plain")
    pieces = [chunk.decode() for chunk in answer.streaming_content]
    expected = list(generator.stream(["How do I brew coffee?"], DecodingSettings(max_new_tokens=24), seed=3))
    assert "".join(pieces) == "".join(expected) and "".join(pieces).strip()
    assert len(pieces) > 1  # sent as it was written, not at the end


def test_a_multi_turn_chat_continues_the_conversation(client_of, alice, checkpoint, generator):
    turns = ["What is the capital of France?", "Paris.", "Name three colours."]
    answer = ask(client_of(alice), checkpoint, turns, greedy="on")

    text = b"".join(answer.streaming_content).decode()
    greedy = DecodingSettings(max_new_tokens=24, do_sample=False)
    assert text == "".join(generator.stream(turns, greedy))


def test_the_loaded_model_is_kept_for_the_next_message(client_of, bob, checkpoint):
    b"".join(ask(client_of(bob), checkpoint, ["Hello?"]).streaming_content)

    assert playground.is_loaded(checkpoint.path)
    assert playground.get_generator(checkpoint.path) is playground.get_generator(checkpoint.path)


def test_a_conversation_that_does_not_end_with_the_user_is_refused(client_of, bob, checkpoint):
    answer = ask(client_of(bob), checkpoint, ["Hi", "Hello!"])

    assert answer.status_code == 422
    assert "end with your message" in answer.json()["errors"]["turns"][0]


def test_a_checkpoint_whose_folder_is_gone_gets_a_clear_error(client_of, bob, checkpoint, tmp_path):
    checkpoint.path = str(tmp_path / "deleted")
    checkpoint.save()

    answer = ask(client_of(bob), checkpoint, ["Hi"])

    assert answer.status_code == 422
    assert "deleted" in answer.json()["errors"]["checkpoint"][0]


def test_the_playground_is_for_annotators_and_admins(client, client_of, alice, bob, charlie, checkpoint):
    page = client_of(bob).get("/playground/")
    assert page.status_code == 200 and "tiny run · epoch 5" in page.content.decode()
    assert client_of(alice).get("/playground/").status_code == 200
    assert client_of(charlie).get("/playground/").status_code == 403
    assert client.get("/playground/").status_code == 302
    assert ask(client_of(charlie), checkpoint, ["Hi"]).status_code == 403
    assert ask(client, checkpoint, ["Hi"]).status_code == 302
