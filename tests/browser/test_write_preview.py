"""The write page's preview follows the text however it arrives: a draft restored after a reload, and a paste
with the mouse (an input event and no key)."""
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROMPT = "How do I keep basil alive on a windowsill?"
ANSWER = "Give it the sunniest window you have, water when the top centimetre of soil is dry, and pinch the tips."


def test_a_restored_draft_is_previewed_with_its_real_length(page, live_server, log_in, bob):
    log_in(page, bob)
    page.goto(live_server.url + "/write/")
    turns = page.locator("textarea[name=turn]")
    turns.nth(0).fill(PROMPT)
    turns.nth(1).fill(ANSWER)
    expect(page.locator("#draft-status")).to_contain_text("Draft kept in this browser")

    page.reload()

    expect(page.locator("#draft-restored")).to_be_visible()
    expect(turns.nth(1)).to_have_value(ANSWER)
    metas = page.locator("#preview .preview-turn .turn-meta")
    expect(metas.nth(0)).to_contain_text(f"{len(PROMPT)} chars")
    expect(metas.nth(1)).to_contain_text(f"{len(ANSWER)} chars")
    expect(page.locator("#preview .preview-turn").nth(1)).to_contain_text("sunniest window")


def test_a_mouse_paste_refreshes_the_preview(page, live_server, log_in, bob):
    log_in(page, bob)
    page.goto(live_server.url + "/write/")
    answer = page.locator("textarea[name=turn]").nth(1)
    page.locator("textarea[name=turn]").nth(0).fill(PROMPT)

    # What a paste from the context menu does: the text goes in and an `input` event fires, with no key at all.
    answer.evaluate("""(el, text) => {
        el.focus();
        el.value = text;
        el.dispatchEvent(new InputEvent("input", {bubbles: true, inputType: "insertFromPaste", data: text}));
    }""", ANSWER)

    turn = page.locator("#preview .preview-turn").nth(1)
    expect(turn).to_contain_text("pinch the tips")
    expect(turn.locator(".turn-meta")).to_contain_text(f"{len(ANSWER)} chars")
    expect(page.locator("[data-counter]").nth(1)).to_contain_text(f"{len(ANSWER)} chars")
