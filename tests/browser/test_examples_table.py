"""The examples table in a real browser: pick rows with the mouse and the keyboard and act on them, search and
sort without reloading the page, select all that match, and a phone-sized screen where the table scrolls inside
its card."""
import re

import pytest
from playwright.sync_api import expect

from curation.models import Example, Review
from curation.services import create_example, get_or_create_source

from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def examples(n, **kwargs):
    stack = get_or_create_source("stackexchange", "cooking.stackexchange.com")
    return [create_example(source=stack, domain="cooking", turns=[
        f"How long should I boil egg number {i}?",
        f"Egg {i} wants {6 + i % 4} minutes in boiling water, then a bowl of iced water so that it peels cleanly."])
        for i in range(n)]


def row(page, example):
    return page.locator(f'tr[data-id="{example.pk}"]')


def test_an_annotator_selects_several_rows_and_approves_them(page, live_server, log_in, bob):
    made = examples(6)
    log_in(page, bob)
    page.goto(live_server.url + "/examples/")
    expect(page.locator(".results-count")).to_contain_text("6 examples")
    approve = page.get_by_role("button", name="Approve")
    expect(approve).to_be_disabled()

    for example in made[1:4]:
        row(page, example).locator(".row-check").check()
    expect(page.locator("#selection-count")).to_have_text("3 selected")
    screenshot(page, "examples-01-selected")
    approve.click()

    report = page.locator("#bulk-report .bulk-report")
    expect(report).to_contain_text("3 approved")
    # the table reloads itself: the three rows say approved, the others did not move
    for example in made[1:4]:
        expect(row(page, example).locator(".badge-approved")).to_be_visible()
    expect(row(page, made[0]).locator(".badge-candidate")).to_be_visible()
    expect(page.locator("#selection-count")).to_have_text("None selected")
    screenshot(page, "examples-02-approved")
    assert set(Example.objects.filter(status="approved").values_list("pk", flat=True)) == {e.pk for e in made[1:4]}
    assert Review.objects.filter(reviewer=bob, decision="approve").count() == 3


def test_the_keyboard_moves_selects_approves_and_rejects_with_a_reason(page, live_server, log_in, bob):
    made = examples(5)  # newest first: made[4] is the first row
    log_in(page, bob)
    page.goto(live_server.url + "/examples/")

    page.keyboard.press("j")  # first row
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#selection-count")).to_have_text("2 selected")
    page.keyboard.press("a")
    expect(page.locator("#bulk-report")).to_contain_text("2 approved")
    expect(row(page, made[4]).locator(".badge-approved")).to_be_visible()
    expect(row(page, made[2]).locator(".badge-approved")).to_be_visible()

    row(page, made[0]).locator(".row-check").check()
    page.locator("body").click(position={"x": 5, "y": 5})  # leave the box: shortcuts again
    page.keyboard.press("r")
    dialog = page.locator("#reject-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("this example")
    page.keyboard.press("6")  # "Duplicate"
    expect(page.locator("#bulk-report")).to_contain_text("1 rejected")
    assert Review.objects.get(example=made[0]).reason == "duplicate"
    assert Example.objects.get(pk=made[0].pk).status == "rejected"


def test_search_sort_and_pages_change_without_reloading(page, live_server, log_in, bob):
    made = examples(30)
    create_example(turns=["How do herons fish?", "They stand still in the shallows and strike fast."])
    log_in(page, bob)
    page.goto(live_server.url + "/examples/?size=25")
    page.evaluate("window.notReloaded = true")

    page.locator("#examples-q").fill("herons")
    expect(page.locator(".examples-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=herons"))
    page.locator("#examples-q").fill("")
    expect(page.locator(".examples-table tbody tr")).to_have_count(25)

    page.get_by_role("link", name="Response length").click()
    expect(page.locator("th.sorted")).to_contain_text("Response length")
    expect(page).to_have_url(re.compile(r"sort=-response"))
    page.keyboard.press("n")
    expect(page.locator(".examples-table tbody tr")).to_have_count(6)
    page.keyboard.press("p")
    expect(page.locator(".examples-table tbody tr")).to_have_count(25)
    # a new filter keeps the sort
    page.locator("select[name=status]").select_option("candidate")
    expect(page).to_have_url(re.compile(r"status=candidate.*sort=-response|sort=-response.*status=candidate"))
    assert page.evaluate("window.notReloaded") is True
    assert len(made) == 30


def test_all_matching_acts_beyond_the_page(page, live_server, log_in, bob):
    made = examples(30)
    log_in(page, bob)
    page.goto(live_server.url + "/examples/?size=25")

    page.locator("#select-page").check()
    expect(page.locator("#selection-count")).to_have_text("25 selected")
    page.get_by_label("all 30 matching").check()
    expect(page.locator("#selection-count")).to_have_text("All 30 matching")
    page.locator("#bulk-split").select_option("train")
    page.once("dialog", lambda dialog: dialog.accept())  # "Set split all 30 matching examples?"
    page.get_by_role("button", name="Set split").click()

    expect(page.locator("#bulk-report")).to_contain_text("30 moved to the split")
    assert Example.objects.filter(split="train").count() == len(made)


def test_on_a_phone_the_table_scrolls_inside_its_card(page, live_server, log_in, bob):
    examples(8)
    page.set_viewport_size({"width": 375, "height": 812})
    log_in(page, bob)
    page.goto(live_server.url + "/examples/")

    sizes = page.evaluate("""() => {
        const box = document.querySelector('.table-scroll');
        return {page: document.documentElement.scrollWidth, screen: window.innerWidth,
                inner: box.scrollWidth, outer: box.clientWidth};
    }""")
    assert sizes["page"] <= sizes["screen"], sizes  # the page itself never scrolls sideways
    assert sizes["inner"] > sizes["outer"], sizes  # the table does, inside its card
    page.get_by_role("button", name="Filters").click()
    expect(page.locator("select[name=status]")).to_be_visible()
    screenshot(page, "examples-03-phone")
