"""Generation runs that ask a model endpoint: through the served tiny checkpoint with a real worker, resumed after
part was answered (only the missing prompts are asked again), and the endpoint pages; the API key never appears
in a page, an API answer, an export or a log."""
import json
import time

import pytest

from core.jobs.runner import run_here
from inference.endpoints.client import EndpointParams, chat_completion
from inference.endpoints.models import ModelEndpoint
from inference.engine.decoding import DecodingSettings
from inference.models import Generation, GenerationRun
from inference.services import create_generation_run, resume_generation_run
from tests.inference.builders import make_training_run, make_version
from tests.inference.conftest import CHATS
from tests.inference.serving import KEY, KEY_VAR, completion, scripted
from tests.samples import WORKER_LOG


@pytest.fixture
def prompts_file(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"id": f"p{i}", "conversations": [user]}) + "\n"
                            for i, (user, _) in enumerate(CHATS, 1)), encoding="utf-8")
    return path


def wait_for(run, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if not run.is_active:
            return run
        time.sleep(0.5)
    raise AssertionError(f"{run} still {run.status} after {seconds} s")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_run_through_the_served_checkpoint_on_a_real_worker(celery_worker, served_tiny, prompts_file, roles):
    url, _ = served_tiny
    endpoint = ModelEndpoint.objects.create(name="tiny served", base_url=url, model="tiny-chat", api_key_env=KEY_VAR,
                                            concurrency=3)

    run = create_generation_run(endpoint=endpoint, prompts_file=prompts_file, seed=1,
                                decoding=DecodingSettings(max_new_tokens=24, do_sample=False))

    assert run.endpoint_model == "tiny-chat" and run.name == "tiny served"
    wait_for(run)
    assert run.status == "succeeded", run.error
    assert run.worker_name.startswith("test-")
    generations = list(run.generations.order_by("position"))
    assert [g.prompt_key for g in generations] == ["p1", "p2", "p3", "p4"]
    assert generations[2].response == "The capital of France is Paris." and generations[2].finish_reason == "stop"
    assert all(g.completion_tokens and g.prompt_tokens and g.model_name == "tiny served" for g in generations)
    assert run.completion_tokens == sum(g.completion_tokens for g in generations)
    assert run.done == run.total == 4


def _answers_unless(failing: set):
    """A scripted API: "answer to <prompt>", or a 500 for the prompts in `failing` (changed by the test)."""
    def script(body, n, headers):
        prompt = body["messages"][-1]["content"]
        if prompt in failing:
            return 500, {}, {"error": {"message": "the model is overloaded"}}
        return 200, {}, completion(f"answer to {prompt}", finish="length" if "story" in prompt else "stop")
    return script


@pytest.mark.django_db
def test_a_run_keeps_what_was_answered_and_started_again_asks_only_for_the_rest(prompts_file, settings, roles):
    settings.ENDPOINT_MAX_RETRIES = 0
    failing = {CHATS[1][0], CHATS[3][0]}
    with scripted(_answers_unless(failing)) as server:
        endpoint = ModelEndpoint.objects.create(name="GPT-4", base_url=server.url, model="gpt-4", concurrency=2)
        run = create_generation_run(endpoint=endpoint, prompts_file=prompts_file, run_async=False)

        assert run.status == "failed"
        assert "2 of 4 prompts got no answer from GPT-4" in run.error and "HTTP 500" in run.error
        assert "The 2 answers received are kept" in run.error
        kept = {g.prompt_key: g for g in run.generations.all()}
        assert sorted(kept) == ["p1", "p3"] and run.done == 2
        assert all("repetition_penalty" not in body for body in server.bodies)  # an external API: OpenAI's fields

        failing.clear()
        asked_before = len(server.bodies)
        resume_generation_run(run)
        run = run_here(run)

    assert run.status == "succeeded", run.error
    again = [body["messages"][-1]["content"] for body in server.bodies[asked_before:]]
    assert sorted(again) == sorted([CHATS[1][0], CHATS[3][0]])  # only the missing ones
    generations = {g.prompt_key: g for g in run.generations.all()}
    assert [generations[k].position for k in ("p1", "p2", "p3", "p4")] == [1, 2, 3, 4]
    assert all(generations[k].pk == kept[k].pk for k in kept)  # what was received stayed as it was
    assert generations["p2"].response == f"answer to {CHATS[1][0]}" and generations["p2"].finish_reason == "length"
    assert run.completion_tokens == 4 * 7 and run.prompt_tokens == 4 * 5


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_is_killed_keeps_its_answers_and_started_again_asks_only_for_the_rest(tmp_path, roles):
    from core.jobs.reaper import reap
    from tests.core.test_job_faults import World

    prompts = tmp_path / "twelve.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "conversations": [f"Question {i}?"]}) + "\n"
                               for i in range(1, 13)), encoding="utf-8")

    def slow(body, n, headers):
        time.sleep(0.4)
        return 200, {}, completion(f"answer to {body['messages'][-1]['content']}")

    world = World(tmp_path)
    try:
        with scripted(slow) as server:
            endpoint = ModelEndpoint.objects.create(name="slow API", base_url=server.url, model="slow", concurrency=1)
            # queued on this test's own broker, for its own worker (no other worker may take it)
            victim = world.worker("victim")
            run = world.start(GenerationRun, "endpoint-generation", endpoint=endpoint.pk, prompts_file=str(prompts))
            deadline = time.monotonic() + 120
            while run.generations.count() < 3:
                assert time.monotonic() < deadline, f"three answers within 120 s: {run.status} {run.error}"
                time.sleep(0.1)

            # when its worker dies mid-run, and the reaper ends the silent run
            world.kill(victim)
            kept = dict(run.generations.values_list("prompt_key", "pk"))
            time.sleep(1.5)
            assert run in reap(timeout=1.0)
            run.refresh_from_db()
            assert run.status == "failed" and "stopped sending heartbeats" in run.error, run.error
            assert 3 <= len(kept) < 12
            asked_before = len(server.bodies)

            # then, started again by another worker, it asks only for the prompts that got no answer
            world.worker("rescuer")
            world.drive("resume-generation", run=run.pk)
            run = wait_for(run)
    finally:
        world.close()

    assert run.status == "succeeded", run.error
    generations = {g.prompt_key: g for g in run.generations.all()}
    assert sorted(generations, key=lambda k: int(k[1:])) == [f"q{i}" for i in range(1, 13)]
    assert all(generations[key].pk == pk for key, pk in kept.items())  # what was received stayed as it was
    again = [body["messages"][-1]["content"] for body in server.bodies[asked_before:]]
    assert len(again) == 12 - len(kept)
    assert asked_before - len(kept) <= 1  # at most the one in flight when the worker died was lost
    assert run.done == run.total == 12 and run.worker_name.startswith("rescuer")


@pytest.mark.django_db
def test_a_run_whose_endpoint_was_deleted_fails_saying_so(prompts_file, roles):
    endpoint = ModelEndpoint.objects.create(name="gone", base_url="http://127.0.0.1:9/v1", model="m")
    run = create_generation_run(endpoint=endpoint, prompts_file=prompts_file, run_async=True)
    endpoint.delete()
    run = run_here(run)
    assert run.status == "failed" and "(m) was deleted" in run.error


# --- Pages ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admins_add_test_edit_and_delete_endpoints_others_are_refused(client_of, alice, bob, served_tiny):
    url, _ = served_tiny
    admin = client_of(alice)
    assert client_of(bob).get("/endpoints/").status_code == 403
    refused = admin.post("/endpoints/", {"name": "x", "base_url": url, "model": "tiny-chat", "api_key_env": KEY,
                                         "concurrency": 4, "timeout": 60})
    assert refused.status_code == 400 and "NAME of the environment variable" in refused.content.decode()
    assert not ModelEndpoint.objects.exists()  # the key pasted by mistake is never kept

    added = admin.post("/endpoints/", {"name": "tiny", "base_url": url, "model": "tiny-chat", "api_key_env": KEY_VAR,
                                       "concurrency": 4, "timeout": 60}, follow=True)
    page = added.content.decode()
    assert "Connected: tiny serves tiny-chat" in page and KEY_VAR in page and "set" in page
    endpoint = ModelEndpoint.objects.get()
    assert admin.get(f"/endpoints/{endpoint.pk}/").status_code == 200
    admin.post(f"/endpoints/{endpoint.pk}/", {"name": "tiny", "base_url": url, "model": "nope", "api_key_env": KEY_VAR,
                                               "concurrency": 2, "timeout": 60})
    endpoint.refresh_from_db()
    assert endpoint.model == "nope" and endpoint.concurrency == 2
    tested = admin.post(f"/endpoints/{endpoint.pk}/test/", follow=True).content.decode()
    assert "&#x27;nope&#x27; is NOT among them" in tested
    admin.post(f"/endpoints/{endpoint.pk}/delete/")
    assert not ModelEndpoint.objects.exists()


@pytest.mark.django_db
def test_the_api_key_never_appears_in_a_page_an_answer_an_export_or_a_log(client_of, alice, bob, served_tiny,
                                                                           prompts_file, caplog, tiny_checkpoint):
    url, server_log = served_tiny
    version = make_version()
    checkpoint = make_training_run(version, tiny_checkpoint, epochs=(5,)).checkpoints.get()
    endpoint = ModelEndpoint.objects.create(name="tiny", base_url=url, model="tiny-chat", api_key_env=KEY_VAR,
                                            checkpoint=checkpoint)
    run = create_generation_run(endpoint=endpoint, prompts_file=prompts_file, run_async=False,
                                decoding=DecodingSettings(max_new_tokens=12))
    assert run.status == "succeeded", run.error
    failed = create_generation_run(name="bad key", endpoint=ModelEndpoint.objects.create(
        name="refusing", base_url=url, model="tiny-chat", api_key_env="LIMA_TEST_WRONG_KEY"),
        prompts_file=prompts_file, run_async=False)
    assert failed.status == "failed" and "LIMA_TEST_WRONG_KEY, which is not set" in failed.error
    with pytest.raises(Exception) as raised:  # a wrong key: the server's refusal, not the key
        chat_completion(EndpointParams("tiny", url, "tiny-chat", api_key_env="HOME"), [{"role": "user", "content": "x"}])
    assert "HTTP 401" in str(raised.value)

    alice.is_staff = True  # the Django admin's pages too
    alice.save()
    admin = client_of(alice)
    from inference import studies

    other = create_generation_run(name="again", endpoint=endpoint, prompts_file=prompts_file, run_async=False,
                                  decoding=DecodingSettings(max_new_tokens=12), seed=4)
    study = studies.create_study(name="s", runs=[run, other], kind="pairwise", user=alice)
    rendered = [
        admin.get(path) for path in (
            "/endpoints/", f"/endpoints/{endpoint.pk}/", "/generations/", f"/generations/{run.pk}/",
            f"/generations/{failed.pk}/", "/playground/", f"/api/generation-runs/{run.pk}/",
            f"/api/generation-runs/{run.pk}/generations/", "/api/generation-runs/", f"/studies/{study.pk}/",
            f"/studies/{study.pk}/results.json", f"/admin/inference/modelendpoint/{endpoint.pk}/change/",
            f"/admin/inference/generationrun/{run.pk}/change/",
        )
    ]
    csv = admin.get(f"/studies/{study.pk}/results.csv")
    reply = client_of(bob).post("/playground/stream/", {"endpoint": endpoint.pk, "turns": json.dumps(["Hi"]),
                                                        "temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.2,
                                                        "max_new_tokens": 8})
    texts = [r.content.decode() for r in rendered] + [b"".join(csv.streaming_content).decode(),
                                                      b"".join(reply.streaming_content).decode()]
    assert [r.status_code for r in rendered] == [200] * len(rendered)
    assert any(KEY_VAR in text for text in texts)  # the variable's name is shown
    for text in texts:
        assert KEY not in text
    logs = caplog.text + server_log.read_text() + (WORKER_LOG.read_text(errors="replace") if WORKER_LOG.exists() else "")
    assert KEY not in logs
    assert KEY not in json.dumps(list(GenerationRun.objects.values()), default=str) + json.dumps(
        list(ModelEndpoint.objects.values()), default=str) + json.dumps(list(Generation.objects.values("response")))
