"""Issue 13's path, clicked through in a real browser with a real worker: an admin serves a checkpoint from the
endpoints page (the gpu worker starts `manage.py serve`'s engine and registers it), chats with it in the playground,
adds an external endpoint and tests its connection, generates answers through the served checkpoint from the
generations form, runs a judge over a study from the study page, and stops the server. The key never reaches a page."""
import os
import re
import time

import pytest
from playwright.sync_api import expect

from inference.endpoints.models import ModelEndpoint, ModelServer
from inference.judging.models import JudgeRun
from inference.models import GenerationRun
from inference.studies import create_study
from tests.inference.builders import make_run, make_training_run, make_version
from tests.inference.serving import KEY, KEY_VAR, completion, scripted

from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]
os.environ.setdefault(KEY_VAR, KEY)  # set before the session's worker starts: it and its servers read it


@pytest.fixture(scope="module")
def tiny_chat(tmp_path_factory):
    from tests.inference.conftest import build_tiny_chat

    return build_tiny_chat(tmp_path_factory.mktemp("served") / "tiny-chat")


def prefers_the_baseline(body, n, headers):
    """A judge that picks the response marked BASELINE, whichever side it is shown on (so no flips)."""
    if headers.get("Authorization") != f"Bearer {KEY}":
        return 401, {}, {"error": {"message": "no key"}}
    question = body["messages"][-1]["content"]
    shown_a = question.split("[Response A]")[1].split("[End of response A]")[0]
    return 200, {}, completion("Response A" if "BASELINE" in shown_a else "Response B")


def until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.5)
    return found


def test_an_admin_serves_generates_and_judges_from_the_browser(page, live_server, log_in, alice, celery_worker,
                                                               tiny_chat):
    version = make_version()
    checkpoint = make_training_run(version, tiny_chat, epochs=(5,)).checkpoints.get()
    log_in(page, alice)

    # serve the checkpoint: the gpu worker starts it, and it registers itself as an endpoint once it answers
    page.goto(f"{live_server.url}/endpoints/")
    serve = page.locator("form", has=page.get_by_role("button", name="Start server"))
    serve.locator("select[name=checkpoint]").select_option(str(checkpoint.pk))
    serve.locator("input[name=api_key_env]").fill(KEY_VAR)
    serve.get_by_role("button", name="Start server").click()
    expect(page.locator("#model-servers")).to_contain_text("tiny run · epoch 5")  # (its "queued" notice goes as it starts)
    expect(page.locator("#model-servers")).to_contain_text("http://127.0.0.1:", timeout=240_000)  # it polls
    served = ModelEndpoint.objects.get(servers__isnull=False)
    page.reload()
    expect(page.locator(".endpoints-table")).to_contain_text("served here")
    screenshot(page, "endpoints-01-served")

    # the playground streams from the served checkpoint (the web process loads no model)
    page.goto(f"{live_server.url}/playground/")
    page.locator("select[name=endpoint]").select_option(str(served.pk))
    page.locator("input[name=greedy]").check()
    page.locator("input[name=max_new_tokens]").fill("24")
    page.locator("#chat-input").fill("What is the capital of France?")
    page.locator("[data-send]").click()
    reply = page.locator("#chat-log .turn-assistant .chat-text").last
    expect(reply).to_have_text("The capital of France is Paris.", timeout=60_000)
    expect(page.locator("#chat-error")).to_be_hidden()
    screenshot(page, "endpoints-02-playground")

    with scripted(prefers_the_baseline) as judge_api:
        # an external endpoint, added and tested from the page
        page.goto(f"{live_server.url}/endpoints/")
        add = page.locator("form", has=page.get_by_role("button", name="Add endpoint"))
        add.locator("input[name=name]").fill("Scripted judge")
        add.locator("input[name=base_url]").fill(judge_api.url)
        add.locator("input[name=model]").fill("scripted-judge")
        add.locator("input[name=api_key_env]").fill(KEY_VAR)
        add.get_by_role("button", name="Add endpoint").click()
        row = page.locator(".endpoints-table tr", has_text="Scripted judge")
        expect(row).to_contain_text("set")
        row.get_by_role("button", name="Test connection").click()
        expect(page.locator("body")).to_contain_text("Connected")
        judge = ModelEndpoint.objects.get(name="Scripted judge")

        # answers from the served checkpoint, started from the generations form
        page.goto(f"{live_server.url}/generations/?form=generate")
        form = page.locator("form", has=page.get_by_role("button", name="Start generating"))
        form.locator("select[name=endpoint]").select_option(str(served.pk))
        form.locator("select[name=dataset_version]").select_option(str(version.pk))
        form.locator("select[name=split]").select_option("dev")
        form.locator("input[name=max_new_tokens]").fill("24")
        form.get_by_role("button", name="Start generating").click()
        expect(page).to_have_url(re.compile(r"/generations/\d+/$"))
        run = GenerationRun.objects.get(endpoint=served)
        until(lambda: GenerationRun.objects.filter(pk=run.pk).exclude(status__in=("queued", "running")).exists(),
              240, "the generation run to end")
        run.refresh_from_db()
        assert run.status == "succeeded", run.error
        assert run.generations.count() == 3 and all(g.completion_tokens for g in run.generations.all())
        page.reload()
        expect(page.locator("body")).to_contain_text("The capital of France is Paris.")
        screenshot(page, "endpoints-03-generated-through-the-served-checkpoint")

        # a judge over a study of it against a baseline, started from the study page
        baseline = make_run("Baseline API", {g.prompt_key: f"BASELINE answer {g.position}." for g in run.generations.all()},
                            version=version)
        study = create_study(name="Served vs baseline", runs=[run, baseline], seed=3)
        page.goto(f"{live_server.url}/studies/{study.pk}/")
        card = page.locator("#judge")
        details = card.locator("details.judge-form")
        if details.get_attribute("open") is None:
            details.locator("summary").click()
        card.locator("#judge-endpoint").select_option(str(judge.pk))
        card.get_by_role("button", name="Start the judge run").click()
        judged = until(lambda: JudgeRun.objects.filter(study=study, status__in=("succeeded", "failed")).first(), 240,
                       "the judge run to end")
        assert judged.status == "succeeded", judged.error
        assert (judged.items, judged.wins, judged.losses, judged.flips) == (3, 0, 3, 0)
        assert len(judge_api.bodies) == 2 * 3  # both orders of every item (the connection test was a GET)
        page.reload()
        expect(card.locator("[data-flip-rate]")).to_have_text("flip rate 0%")
        screenshot(page, "endpoints-04-judged")
        assert KEY not in page.content()

    # stopping the server takes its endpoint away
    page.goto(f"{live_server.url}/endpoints/")
    page.locator("#model-servers").get_by_role("button", name="Stop").click()
    until(lambda: ModelServer.objects.filter(status="cancelled").exists(), 90, "the server to stop")
    assert not ModelEndpoint.objects.filter(pk=served.pk).exists()
    page.reload()
    expect(page.locator(".endpoints-table")).not_to_contain_text("served here")
    assert KEY not in page.content()
