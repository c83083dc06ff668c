"""The study page in a real browser with a judge run and several checkpoints: the judge card beside the people,
the Bradley–Terry ranking, the length-controlled win rate and the lengths, and no highlighted choice in a tie."""
import os

import pytest
from playwright.sync_api import expect

from inference.judging.services import create_judge_run, run_now
from inference.studies import create_study, next_item, record_label
from tests.inference.builders import make_run
from tests.inference.serving import KEY, KEY_VAR, scripted
from tests.inference.test_judge import birds, endpoint_of, judge_rule

from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault(KEY_VAR, KEY)  # the scripted judge's key, as tests/inference's conftest sets it


def test_the_admin_sees_the_judge_beside_the_people(page, live_server, log_in, alice):
    good, bad = birds()
    study = create_study(name="Judged in the browser", runs=[good, bad], seed=1)
    while (item := next_item(study, alice)) is not None:
        record_label(item, alice, "A" if "GOOD" in item.left.response else "B")
    with scripted(judge_rule) as server:
        run = run_now(create_judge_run(study, endpoint_of(server), run_async=False))
    assert run.status == "succeeded", run.error

    log_in(page, alice)
    page.goto(f"{live_server.url}/studies/{study.pk}/")

    card = page.locator("#judge")
    expect(card.get_by_role("heading", name="A model as judge")).to_be_visible()
    expect(card.locator("[data-flip-rate]")).to_have_text("flip rate 29%")
    expect(card.locator("[data-unparseable]")).to_contain_text("2 unparseable")
    expect(card.locator("[data-judge-agreement]").first).to_contain_text("alice")
    expect(page.locator("[data-lc-win-rate]").first).to_be_visible()
    expect(page.get_by_role("img", name="Response lengths of Kestrel-judged")).to_be_visible()
    screenshot(page, "judging-01-study-with-judge")
    assert KEY not in page.content()


def test_several_checkpoints_in_a_tie_highlight_no_choice(page, live_server, log_in, alice):
    keys = {str(k): f"Prompt {k}?" for k in range(1, 9)}
    runs = [make_run(f"epoch {e}", {k: f"answer {k} of epoch {e}" for k in keys}, prompts=keys) for e in (5, 6, 7)]
    study = create_study(name="Three epochs", runs=runs, pairing="sampled", pairs_per_prompt=2, seed=0)
    while (item := next_item(study, alice)) is not None:
        record_label(item, alice, "tie")

    log_in(page, alice)
    page.goto(f"{live_server.url}/studies/{study.pk}/")

    expect(page.locator("[data-ranking=tie]")).to_contain_text("No clear winner yet")
    expect(page.locator(".ranking-table [data-rating]")).to_have_count(3)
    screenshot(page, "judging-02-three-epochs-tie")
