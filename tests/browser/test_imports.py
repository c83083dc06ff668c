"""The import page in a real browser, with the real samples imported: the rule report, and Markdown that renders
clean (no link, URL, image or formatting debris) in the rejected records and in the examples made."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from curation.imports.ingest import start_import
from curation.models import Example

from .conftest import SCREENSHOTS, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NESTED_REDDIT = Path(__file__).parents[1] / "curation" / "fixtures" / "reddit" / "nested"
# What must not be seen in rendered Markdown: link and image syntax, URLs, HTML and entities left over,
# emphasis markers that did not render.
DEBRIS = ("](", "![", "http://", "https://", "www.", "<sup", "<sub", "&lt;", "&gt;", "&amp;", "&nbsp;", "&#x", "**")


def rendered_texts(page):
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    # Imported text keeps no link or image: what renders is text, lists and code.
    assert page.locator(".markdown a, .markdown img").count() == 0
    return page.locator(".markdown").all_inner_texts()


def assert_clean(texts):
    assert texts
    for text in texts:
        assert not [mark for mark in DEBRIS if mark in text], text[:500]


def test_a_stack_exchange_import_shows_its_rule_report_and_clean_markdown(page, live_server, log_in, alice, shared_data):
    run = start_import("stackexchange", shared_data / "stackexchange" / "coffee_2015",
                       options={"rejected_sample": "all"}, user=alice, run_async=False)
    log_in(page, alice)

    page.goto(f"{live_server.url}/imports/{run.pk}/")

    report = page.locator(".rules-card")
    expect(report.get_by_role("heading", name="Rules")).to_be_visible()
    expect(report.locator("#rule-first_person")).to_contain_text("found")
    expect(report.locator("#rule-first_person").get_by_role("button", name="Re-run loosened")).to_be_visible()
    expect(report.locator("#rule-no_answer")).to_contain_text("a fact, not a rule")
    assert_clean(rendered_texts(page))
    screenshot(page, "imports-01-coffee-page")
    report.screenshot(path=str(SCREENSHOTS / "imports-01-coffee-rules.png"))

    example = Example.objects.filter(import_run=run).order_by("pk").first()
    page.goto(f"{live_server.url}/examples/{example.pk}/")
    assert_clean(rendered_texts(page))
    screenshot(page, "imports-02-coffee-example")


def test_wikihow_and_reddit_imports_render_clean(page, live_server, log_in, alice, shared_data):
    wikihow = start_import("wikihow", shared_data / "wikihow" / "wikihow_title_heading_paragraph.csv",
                           options={"target": 3}, user=alice, run_async=False)
    reddit = start_import("reddit", NESTED_REDDIT, options={"subreddits": ["WritingPrompts"]}, user=alice,
                          run_async=False)
    log_in(page, alice)

    for name, run in (("wikihow", wikihow), ("reddit", reddit)):
        for example in Example.objects.filter(import_run=run).order_by("pk")[:3]:
            page.goto(f"{live_server.url}/examples/{example.pk}/")
            assert_clean(rendered_texts(page))
        screenshot(page, f"imports-03-{name}-example")
    page.goto(f"{live_server.url}/imports/{wikihow.pk}/")
    expect(page.locator("#rule-not_sampled")).to_contain_text("target")
    assert_clean(rendered_texts(page))
