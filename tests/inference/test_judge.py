"""A judge run end to end, with real processes: a Celery worker asks a small deterministic OpenAI-compatible
server (a real HTTP server in a thread of this test) that answers by a rule, so parsing, both orders, flip
counting, the cache on a second run, the command's JSON line and resuming after the worker is killed are
checked against known answers; and the tiny checkpoint served by `manage.py serve` as the judge."""
import csv
import io
import json
import re
import time

import pytest
from django.core.management import call_command

from inference.endpoints.models import ModelEndpoint
from inference.judging import verdicts
from inference.judging.models import JudgeCall, JudgeRun
from inference.judging.services import create_judge_run, judge_results, resume_judge_run, run_now
from inference.studies import create_study, next_item
from tests.inference.builders import make_run
from tests.inference.serving import KEY, KEY_VAR, completion, scripted, served
from tests.inference.test_studies import label_as
from tests.samples import WORKER_LOG

# Prompt k's marker decides how the scripted judge answers it (see judge_rule).
MARKERS = {1: "", 2: "", 3: "", 4: "", 5: "ALWAYS-A", 6: "ALWAYS-A", 7: "GARBAGE", 8: "NEITHER"}


def judge_rule(body, n, headers):
    """Picks the response that says GOOD; ALWAYS-A: the first shown, whatever it is; GARBAGE: no option;
    NEITHER: neither. Refuses a request without the key."""
    if headers.get("Authorization") != f"Bearer {KEY}":
        return 401, {}, {"error": {"message": "no key"}}
    question = body["messages"][0]["content"]
    if "GARBAGE" in question:
        return 200, {}, completion("lorem ipsum dolor sit amet")
    if "ALWAYS-A" in question:
        return 200, {}, completion("Response A\nIt came first.")
    if "NEITHER" in question:
        return 200, {}, completion("Neither. Both are fine.")
    shown_a = question.split("[Response A]")[1].split("[End of response A]")[0]
    return 200, {}, completion("Response A" if "GOOD" in shown_a else "**Response B** is better.")


def birds(n=8, markers=MARKERS):
    keys = [str(k) for k in range(1, n + 1)]
    good = make_run("Kestrel-judged", {k: f"GOOD answer {k}. {markers.get(int(k), '')}" for k in keys})
    bad = make_run("Sparrow-judged", {k: f"weak answer {k}. {markers.get(int(k), '')}" for k in keys})
    return good, bad


def endpoint_of(server, concurrency=4):
    return ModelEndpoint.objects.create(name="Scripted judge", base_url=server.url, model="scripted-judge",
                                        api_key_env=KEY_VAR, concurrency=concurrency)


def wait_for(run, condition, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        run.refresh_from_db()
        if condition(run):
            return run
        assert time.monotonic() < deadline, f"{what} within {timeout} s: {run} {run.error!r}"
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_a_judge_run_through_a_worker_reads_both_orders_counts_flips_and_is_cached(celery_worker, client_of,
                                                                                 alice):
    good, bad = birds()
    study = create_study(name="Judged", runs=[good, bad], seed=1)
    with scripted(judge_rule) as server:
        endpoint = endpoint_of(server)

        # when a worker runs the judge
        run = create_judge_run(study, endpoint, user=alice)
        run = wait_for(run, lambda r: not r.is_active, 180, "the judge run ended")

        # then: prompts 1-4 for Kestrel, 5-6 flipped (always A) and so ties, 7 unparseable twice, 8 neither
        assert run.status == "succeeded", run.error
        assert (run.items, run.wins, run.ties, run.losses, run.flips, run.unparseable) == (7, 4, 3, 0, 2, 2)
        assert run.flip_rate == round(2 / 7, 4) and run.calls == 16 and len(server.bodies) == 16
        assert JudgeCall.objects.count() == 16
        assert set(JudgeCall.objects.filter(label="").values_list("output", flat=True)) == {"lorem ipsum dolor sit amet"}
        assert {b["messages"][0]["content"].count("significantly better") for b in server.bodies} == {1}
        verdict = run.verdicts.get(item__prompt_key="7")
        assert verdict.label == "" and verdict.unparseable == 2 and verdict.backward.order == "BA"

        # a second run of the same judge and question asks nothing: every answer comes from the cache
        again = wait_for(create_judge_run(study, endpoint), lambda r: not r.is_active, 180, "the second run ended")
        assert again.status == "succeeded" and again.calls == 0 and len(server.bodies) == 16
        assert (again.items, again.wins, again.ties, again.flips, again.unparseable) == (7, 4, 3, 2, 2)

        # and so does the command, whose last line is the JSON summary
        out = io.StringIO()
        call_command("judge", str(study.pk), "--endpoint", server.url, "--model", "scripted-judge",
                     "--api-key-env", KEY_VAR, "--json", stdout=out)
        line = json.loads(out.getvalue().strip().splitlines()[-1])
        assert line == {"judge_run": line["judge_run"], "status": "succeeded", "items": 7, "wins": 4, "ties": 3,
                        "losses": 0, "flip_rate": round(2 / 7, 4), "unparseable": 2}
        assert len(server.bodies) == 16

    # the study page shows the judge beside the people, and the downloads name judge, model and template
    admin = client_of(alice)
    page = admin.get(f"/studies/{study.pk}/").content.decode()
    assert re.search(r"data-flip-rate>flip rate 29%", page) and "2 unparseable answers" in page
    assert "Scripted judge" in page and "scripted-judge" in page
    data = admin.get(f"/studies/{study.pk}/judge/{run.pk}/results.json").json()
    assert data["judge"] == {"name": "Scripted judge", "model": "scripted-judge", "base_url": server.url}
    assert data["template"] == verdicts.PAIRWISE_TEMPLATE and data["flip_rate"] == round(2 / 7, 4)
    pair = data["pairs"][0]
    assert pair["win"]["percent"] == pytest.approx(400 / 7, abs=0.01) and pair["n_items"] == 7
    assert len(data["verdicts"]) == 8
    rows = list(csv.DictReader(io.StringIO(b"".join(
        admin.get(f"/studies/{study.pk}/judge/{run.pk}/verdicts.csv").streaming_content).decode())))
    assert {r["prompt_key"]: r["verdict"] for r in rows}["7"] == "" and rows[0]["judge_model"] == "scripted-judge"
    # the key never shows: not in a page, a download or the worker's log
    for text in (page, json.dumps(data), json.dumps(rows), WORKER_LOG.read_text(errors="replace")):
        assert KEY not in text


@pytest.mark.django_db
def test_the_judge_is_compared_with_each_person_and_the_majority(alice, bob):
    good, bad = birds(n=4, markers={})
    study = create_study(name="Calibrated", runs=[good, bad], overlap=2, seed=3)
    items = list(study.items.select_related("left", "right").order_by("position"))
    by_key = {item.prompt_key: item for item in items}
    for key, outcome in zip("1234", ["win", "win", "tie", "loss"]):  # alice, for Kestrel
        next_item(study, alice)
        label_as(alice, by_key[key], good, outcome)
    for item in items:
        next_item(study, bob)
        label_as(bob, item, good, "win")

    with scripted(judge_rule) as server:
        run = run_now(create_judge_run(study, endpoint_of(server), run_async=False))
    found = judge_results(run, n_resamples=200)

    assert run.status == "succeeded" and run.wins == 4
    people = {row["annotator"]: row for row in found["agreement"]["people"]}
    assert people["alice"]["accuracy"] == 0.625  # 1 + 1 + ½ (she said tie) + 0 over 4
    assert people["bob"]["accuracy"] == 1.0
    # the majority: items 1 and 2 (both said win); 3 and 4 have none
    assert found["agreement"]["majority"] == {"n_items": 2, "accuracy": 1.0}
    assert found["agreement"]["mean"] == pytest.approx(0.8125)
    assert found["ranking"][0]["name"] == "Kestrel-judged"


@pytest.mark.django_db
def test_a_rating_study_is_rated_by_the_judge(alice):
    def rater(body, n, headers):
        return 200, {}, completion("Excellent" if "GOOD" in body["messages"][0]["content"] else "Rating: Fail")

    good, bad = birds(n=3, markers={})
    study = create_study(name="Rated", runs=[good, bad], kind="rating")
    with scripted(rater) as server:
        run = run_now(create_judge_run(study, endpoint_of(server), run_async=False))
    found = judge_results(run, n_resamples=100)

    assert run.status == "succeeded" and run.items == 6 and run.unparseable == 0 and run.calls == 6
    shares = {row["name"]: row["shares"] for row in found["ratings"]}
    assert shares["Kestrel-judged"]["Excellent"]["percent"] == 100.0
    assert shares["Sparrow-judged"]["Fail"]["percent"] == 100.0
    assert "{response}" in run.template


@pytest.mark.django_db
def test_a_template_without_its_placeholders_is_refused_and_nothing_is_made(alice):
    from inference.judging.services import JudgeError

    good, bad = birds(n=2, markers={})
    study = create_study(name="x", runs=[good, bad])
    endpoint = ModelEndpoint.objects.create(name="e", base_url="http://127.0.0.1:9/v1", model="m")
    with pytest.raises(JudgeError, match=r"\{response_b\} missing"):
        create_judge_run(study, endpoint, template="Which is better? {conversation} {response_a}")
    assert not JudgeRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_is_killed_starts_again_asking_only_for_what_is_missing(tmp_path):
    from core.jobs.reaper import reap
    from tests.core.test_job_faults import World

    def slow(body, n, headers):
        time.sleep(0.4)
        return judge_rule(body, n, headers)

    good, bad = birds()
    study = create_study(name="Killed", runs=[good, bad], seed=2)
    world = World(tmp_path)
    try:
        with scripted(slow) as server:
            # queued on this test's own broker, for its own worker (no other worker may take it)
            run = create_judge_run(study, endpoint_of(server, concurrency=1), run_async=False)
            worker = world.worker("judge")
            world.drive("judge", run=run.pk)
            wait_for(run, lambda r: JudgeCall.objects.count() >= 4, 120, "four answers stored")

            # when its worker dies mid-run, and the reaper ends the silent run
            world.kill(worker)
            stored = JudgeCall.objects.count()
            time.sleep(1.5)
            assert run in reap(timeout=1.0)
            run.refresh_from_db()
            assert run.status == "failed" and stored < 16
            asked_before = len(server.bodies)

            # then, started again, it asks only for the answers it has not got
            run = resume_judge_run(run, run_async=False)
    finally:
        world.close()

    assert run.status == "succeeded", run.error
    assert JudgeCall.objects.count() == 16
    assert len(server.bodies) - asked_before == 16 - stored
    assert asked_before - stored <= 1  # at most the one in flight when the worker died was lost
    assert (run.items, run.wins, run.ties, run.flips, run.unparseable) == (7, 4, 3, 2, 2)


@pytest.mark.django_db(transaction=True)
def test_the_tiny_served_checkpoint_judges_through_a_worker_and_its_babble_is_counted(celery_worker,
                                                                                    tiny_checkpoint):
    good, bad = birds(n=3, markers={})
    study = create_study(name="Tiny judge", runs=[good, bad])
    with served(tiny_checkpoint, name="tiny-judge") as (url, log_path):
        endpoint = ModelEndpoint.objects.create(name="Tiny", base_url=url, model="tiny-judge", api_key_env=KEY_VAR)
        run = create_judge_run(study, endpoint, max_tokens=16)
        run = wait_for(run, lambda r: not r.is_active, 300, "the tiny judge's run ended")
        served_log = log_path.read_text()

    assert run.status == "succeeded", run.error
    calls = JudgeCall.objects.filter(judge_model="tiny-judge")
    assert calls.count() == 6 and run.calls == 6
    unread = calls.filter(label="").count()
    assert run.unparseable == unread  # whatever it wrote was read or counted, never guessed
    assert run.items + run.verdicts.exclude(unparseable=0).count() == 3
    assert all(v.forward.order == "AB" and v.backward.order == "BA" for v in run.verdicts.all())
    assert KEY not in served_log
