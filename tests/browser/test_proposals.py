"""A curator proposes a set in the browser, reads it against the targets and accepts it as a review queue."""
import re

import pytest
from playwright.sync_api import expect

from curation.models import Example, Proposal
from tests.browser.conftest import screenshot
from tests.curation.proposals.test_proposals import TOPICS, embed_everything, how_to, targets

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_curator_proposes_a_set_and_reviews_it_as_a_queue(page, live_server, log_in, alice, celery_worker):
    targets(wikihow=3)
    made = [how_to(topic) for topic in TOPICS]
    embed_everything()
    log_in(page, alice)

    page.goto(live_server.url + "/proposals/")
    page.get_by_label("Size").fill("3")
    page.get_by_label("Targets").select_option("dashboard")
    page.get_by_role("button", name="Propose").click()

    expect(page).to_have_url(re.compile(r"/proposals/\d+/$"))
    accept = page.get_by_role("button", name="Accept as a review queue")
    expect(accept).to_be_visible(timeout=60_000)  # the page polls the job a worker runs
    expect(page.locator(".proposal-composition")).to_contain_text("wikiHow")
    screenshot(page, "proposal")
    accept.click()

    proposal = Proposal.objects.get()
    expect(page).to_have_url(re.compile(rf"/review/\?tag=proposal-{proposal.pk}"))
    tagged = {e.pk for e in Example.objects.all() if proposal.review_tag in e.tags}
    assert tagged == set(proposal.examples) and len(tagged) == 3 and tagged <= {e.pk for e in made}
