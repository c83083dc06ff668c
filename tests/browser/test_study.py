"""Blind studies in a real browser: an annotator makes three comparisons with the keyboard, goes back to change
one, and never meets a model's name on the way; and rates responses with the rating protocol's own keys."""
import pytest
from playwright.sync_api import expect

from inference.models import Judgment, Rating
from inference.studies import create_study
from tests.inference.builders import make_run

from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROMPTS = {
    "1": "How do I keep basil alive on a windowsill?",
    "2": "Write a haiku about a lighthouse.",
    "3": "What is the difference between a list and a tuple in Python?",
}


def test_an_annotator_makes_three_comparisons_with_the_keyboard(page, live_server, log_in, bob):
    # given a study of two runs over three prompts
    first = make_run("Kestrel-65B", {k: f"**Certainly.** Here is a careful answer to: {p}" for k, p in PROMPTS.items()},
                     prompts=PROMPTS)
    second = make_run("Osprey-7B", {k: f"A short answer to: {p}" for k, p in PROMPTS.items()}, prompts=PROMPTS)
    study = create_study(name="Birds of a feather", runs=[first, second], seed=7)
    log_in(page, bob)
    panel = page.locator("#study-panel")

    # when Bob labels each item with a key
    page.goto(f"{live_server.url}/studies/{study.pk}/annotate/")
    expect(panel).to_have_attribute("data-position", "1")
    expect(page.get_by_role("heading", name="Response A")).to_be_visible()
    shown = study.items.get(position=1).prompt_key
    expect(panel.locator(".prompt-text")).to_have_text(PROMPTS[shown])
    screenshot(page, "study-01-first-item")
    page.keyboard.press("1")  # A is better
    expect(panel).to_have_attribute("data-position", "2")
    expect(page).to_have_url(f"{live_server.url}/studies/{study.pk}/items/2/")
    page.keyboard.press("3")  # neither is significantly better
    expect(panel).to_have_attribute("data-position", "3")
    page.keyboard.press("b")  # B is better
    expect(panel).to_have_attribute("data-position", "done")
    expect(page.get_by_role("heading", name="Nothing left for you here")).to_be_visible()
    screenshot(page, "study-02-done")

    # then his three labels are stored, against the sides he saw
    labels = dict(Judgment.objects.filter(annotator=bob).values_list("item__position", "label"))
    assert labels == {1: "A", 2: "tie", 3: "B"}

    # and k takes him back to change his last label, the current one marked
    page.keyboard.press("k")
    expect(panel).to_have_attribute("data-position", "3")
    expect(page.get_by_role("button", name="B is better")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("2")
    expect(panel).to_have_attribute("data-position", "done")
    page.keyboard.press("k")
    expect(panel).to_have_attribute("data-position", "3")
    page.keyboard.press("k")
    expect(panel).to_have_attribute("data-position", "2")
    page.keyboard.press("j")
    expect(panel).to_have_attribute("data-position", "3")
    assert Judgment.objects.filter(annotator=bob).count() == 3

    # the help opens with ?
    page.keyboard.press("?")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")

    html = page.content()
    for secret in ("Kestrel-65B", "Osprey-7B", "Birds of a feather"):
        assert secret not in html
    # the results open now that nothing is left for him
    page.goto(f"{live_server.url}/studies/{study.pk}/")
    expect(page.get_by_text("Kestrel-65B").first).to_be_visible()
    screenshot(page, "study-03-results")


def test_an_annotator_rates_responses_with_the_rating_protocol_s_keys(page, live_server, log_in, bob):
    # given a rating study of one run over two prompts
    prompts = {k: PROMPTS[k] for k in ("1", "2")}
    run = make_run("Kestrel-65B", {k: f"An answer to: {p}" for k, p in prompts.items()}, prompts=prompts)
    study = create_study(name="Rated birds", runs=[run], kind="rating", seed=1)
    log_in(page, bob)
    panel = page.locator("#study-panel")

    # when Bob rates the first response with f and the second with 3
    page.goto(f"{live_server.url}/studies/{study.pk}/annotate/")
    expect(page.get_by_role("heading", name="Response", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Response A")).to_have_count(0)
    page.keyboard.press("f")  # Fail
    expect(panel).to_have_attribute("data-position", "2")
    page.keyboard.press("3")  # Excellent
    expect(panel).to_have_attribute("data-position", "done")

    # then both ratings are stored, and the help lists the protocol's labels
    labels = dict(Rating.objects.filter(annotator=bob).values_list("item__position", "label"))
    assert labels == {1: "Fail", 2: "Excellent"}
    page.keyboard.press("k")
    expect(page.get_by_role("button", name="Excellent")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog").get_by_text("Excellent")).to_be_visible()
