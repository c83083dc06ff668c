"""The datasets page's Check: its verdict appears under the button that asked, scrolled into view and focused —
not below the fold of a long freeze form, unseen."""
import pytest
from playwright.sync_api import expect

from curation.services import create_example, get_or_create_source

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_check_result_comes_into_view_with_the_focus(page, live_server, log_in, alice):
    for number in range(12):  # a source per example: the form's list of sources grows long
        source = get_or_create_source("manual", f"hand-written set {number}")
        create_example(turns=[f"Question {number}?", f"Answer {number}."], source=source, author=alice, external_id=f"q{number}")
    page.set_viewport_size({"width": 1366, "height": 560})
    log_in(page, alice)
    page.goto(live_server.url + "/datasets/")

    page.get_by_role("button", name="Check").click()

    result = page.locator("#check-result")
    expect(result).to_contain_text("Nothing selected")  # nothing approved yet: the verdict says so
    expect(result).to_be_focused()
    expect(result.locator(".check-verdict")).to_be_in_viewport()
