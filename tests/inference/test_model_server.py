"""The model-server job on a real worker: a checkpoint served while a study needs it, registered as an endpoint
once it answers, and gone with its endpoint when it is stopped."""
import time

import pytest

from inference.endpoints.client import chat_completion
from inference.endpoints.models import ModelEndpoint, ModelServer
from inference.endpoints.services import start_model_server, stop_model_server
from tests.inference.builders import make_training_run, make_version
from tests.inference.serving import KEY, KEY_VAR


def until(condition, seconds=240):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds} s")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_served_checkpoint_registers_its_endpoint_and_takes_it_away_when_stopped(celery_worker, tiny_checkpoint,
                                                                                  client_of, alice):
    checkpoint = make_training_run(make_version(), tiny_checkpoint, epochs=(5,)).checkpoints.get()
    server = start_model_server(checkpoint=checkpoint, api_key_env=KEY_VAR, user=alice)

    endpoint = until(lambda: ModelEndpoint.objects.filter(servers=server).first())
    assert endpoint.name == "tiny run · epoch 5" and endpoint.checkpoint == checkpoint
    assert endpoint.base_url.startswith("http://127.0.0.1:") and endpoint.api_key_env == KEY_VAR
    answer = chat_completion(endpoint, [{"role": "user", "content": "What is the capital of France?"}],
                             max_tokens=24, temperature=0)
    assert answer.text == "The capital of France is Paris." and answer.finish_reason == "stop"
    page = client_of(alice).get("/endpoints/").content.decode()
    assert "served here" in page and "Stop" in page and KEY not in page

    stop_model_server(server)
    server = until(lambda: ModelServer.objects.filter(pk=server.pk, status="cancelled").first(), 60)
    assert not ModelEndpoint.objects.filter(pk=endpoint.pk).exists()
