"""The similar-examples card loads after the page, on the example page and on a review item, and the review
keyboard still works while it loads."""
import pytest
from playwright.sync_api import expect

from curation.services import create_example, get_or_create_source
from curation.signals.index import clear_cache
from curation.signals.jobs import start_run
from tests.curation.signals.conftest import TOPICS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def embedded():
    clear_cache()
    source = get_or_create_source("stackexchange", "cooking.stackexchange.com")
    made = {name: create_example(turns=turns, source=source, domain="other") for name, turns in TOPICS.items()}
    start_run("embedding", run_async=False)
    yield made
    clear_cache()


def test_the_example_page_shows_the_nearest_example_first(page, live_server, log_in, bob, embedded):
    log_in(page, bob)
    page.goto(live_server.url + f"/examples/{embedded['bread'].pk}/")

    first = page.locator(".similar-item").first
    expect(first).to_contain_text(f"#{embedded['bread2'].pk}")
    expect(first).to_contain_text("crusty homemade loaf")


def test_a_review_item_shows_its_similar_examples_and_keeps_its_keys(page, live_server, log_in, bob, embedded):
    log_in(page, bob)
    page.goto(live_server.url + f"/review/{embedded['bread'].pk}/")

    expect(page.locator(".similar-item").first).to_contain_text(f"#{embedded['bread2'].pk}")
    page.keyboard.press("d")
    expect(page.locator(".toast")).to_contain_text("Split set to dev")
    expect(page.locator(".item-title")).to_have_text(f"Example #{embedded['bread'].pk}")
