"""The annotators' workspace in a real browser: log in, write, review with the keyboard, edit and diff, two
people editing at once, and hostile Markdown that must not run."""
import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from core.roles import ANNOTATOR
from curation.models import Example, Review, Source
from curation.services import create_example, get_or_create_source, review_example

from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"

EGG_ANSWER = """Boiling an egg well is mostly about timing, and the times below assume a large egg straight from
the fridge.

1. Bring a pot of water to a rolling boil.
2. Lower the eggs in gently with a spoon.
3. Boil **6 minutes** for a runny yolk, **9 minutes** for a firm one.
4. Move them to iced water for two minutes so they stop cooking and peel easily.

```python
def minutes(yolk):
    return {"runny": 6, "jammy": 7, "firm": 9}[yolk]
```
"""


@pytest.fixture
def dana(roles):
    """Dana is a second annotator, for everything that needs two people."""
    user = get_user_model().objects.create_user(username="dana", password=PASSWORD)
    user.groups.add(roles[ANNOTATOR])
    return user


def stack_exchange_example(number, answer=EGG_ANSWER, **kwargs):
    source = get_or_create_source(Source.Kind.STACKEXCHANGE, "cooking.stackexchange.com", licence="CC BY-SA 4.0")
    return create_example(
        source=source, external_id=f"cooking/questions/{number}", domain="cooking.stackexchange.com",
        turns=[f"How long should I boil an egg for a runny yolk? (question {number})", answer],
        metadata={"url": f"https://cooking.stackexchange.com/questions/{number}", "author": "Julia",
                  "score": 42 + number, "licence": "CC BY-SA 4.0", "title": "Boiling eggs"},
        **kwargs,
    )


def test_a_person_logs_in_with_the_form_and_lands_on_the_review_queue(page, live_server, bob):
    stack_exchange_example(1)
    page.goto(live_server.url + "/review/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/review/"))
    screenshot(page, "01-login")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/review/"))
    expect(page.locator(".topbar .user-name")).to_have_text("bob")
    expect(page.locator(".topbar .badge")).to_have_text("annotator")
    expect(page.locator(".item-title")).to_contain_text("Example #")


def test_an_annotator_writes_a_two_turn_example_with_the_live_preview(page, live_server, log_in, bob):
    log_in(page, bob)
    page.goto(live_server.url + "/write/")
    turns = page.locator("textarea[name=turn]")
    turns.nth(0).fill("What is a good way to learn to touch type?")
    # keyup drives the debounced preview; fill() alone types no keys.
    turns.nth(1).fill("As an AI, I think you should **practise daily** with https://example.org")
    turns.nth(1).press("End")

    preview = page.locator("#preview")
    expect(preview.locator("strong")).to_have_text("practise daily")
    expect(preview).to_contain_text("Contains a phrase to avoid")
    expect(preview).to_contain_text("Written in the first person")
    expect(preview).to_contain_text("Contains a link")

    turns.nth(1).fill(
        "Touch typing is learned by slow, accurate practice: speed follows accuracy. Keep your fingers on the "
        "home row, never look at the keys, and practise fifteen minutes a day with a typing tutor."
    )
    turns.nth(1).press("End")
    expect(preview).not_to_contain_text("Contains a phrase to avoid")

    page.get_by_role("button", name="+ Add a follow-up exchange").click()
    expect(turns).to_have_count(4)
    turns.nth(2).fill("How long until I am fast?")
    turns.nth(3).fill("Most people reach forty words a minute after a month of daily practice.")
    turns.nth(3).press("End")
    expect(preview.locator(".preview-turn")).to_have_count(4)
    expect(preview.locator(".preview-turn").nth(3)).to_contain_text("forty words a minute")
    page.locator("input[name=domain]").fill("skills")
    page.locator("input[name=tags]").fill("typing, learning")
    screenshot(page, "02-write-preview")

    # Never lose work: a reload brings the draft back from localStorage.
    page.reload()
    expect(page.locator("#draft-restored")).to_be_visible()
    expect(turns).to_have_count(4)
    expect(turns.nth(2)).to_have_value("How long until I am fast?")
    expect(page.locator("input[name=domain]")).to_have_value("skills")

    page.get_by_role("button", name="Save example").click()
    expect(page.locator(".saved-banner")).to_contain_text("is saved")
    screenshot(page, "03-write-saved")

    example = Example.objects.get(created_by=bob)
    assert example.conversation[2:] == [
        "How long until I am fast?", "Most people reach forty words a minute after a month of daily practice."
    ]
    assert (example.domain, example.tags, example.source.kind) == ("skills", ["typing", "learning"], "manual")
    # The saved draft is gone: the next visit starts from a blank page.
    page.goto(live_server.url + "/write/")
    expect(page.locator("#draft-restored")).to_be_hidden()
    expect(turns.nth(0)).to_have_value("")


def test_a_reviewer_decides_with_the_keyboard(page, live_server, log_in, bob):
    first, second, third = (stack_exchange_example(n) for n in (1, 2, 3))
    log_in(page, bob)
    page.goto(live_server.url + "/review/")
    expect(page.locator(".item-title")).to_have_text(f"Example #{first.pk}")
    screenshot(page, "04-review")

    page.keyboard.press("d")  # split: dev
    expect(page.locator(".toast")).to_contain_text("Split set to dev")
    page.keyboard.press("a")
    expect(page.locator(".item-title")).to_have_text(f"Example #{second.pk}")
    expect(page.locator(".toast")).to_contain_text(f"Approved #{first.pk}")
    expect(page).to_have_url(re.compile(rf"/review/{second.pk}/"))

    page.keyboard.press("j")
    expect(page.locator(".item-title")).to_have_text(f"Example #{third.pk}")
    page.keyboard.press("k")
    expect(page.locator(".item-title")).to_have_text(f"Example #{second.pk}")

    page.keyboard.press("r")
    expect(page.locator("#reason-dialog")).to_be_visible()
    screenshot(page, "05-review-reject-reasons")
    page.keyboard.press("2")  # "Low quality or wrong"
    expect(page.locator(".toast")).to_contain_text(f"Rejected #{second.pk}")
    expect(page.locator(".item-title")).to_have_text(f"Example #{third.pk}")

    page.keyboard.press("?")
    expect(page.locator("#help-dialog")).to_be_visible()
    screenshot(page, "06-review-help")
    page.keyboard.press("Escape")
    expect(page.locator("#help-dialog")).to_be_hidden()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.split) == ("approved", "dev")
    assert second.status == "rejected"
    assert Review.objects.get(example=second).reason == "low_quality"
    third.refresh_from_db()
    assert third.claimed_by == bob  # the item on screen is held by its reviewer


def test_an_edit_in_the_review_queue_shows_up_as_a_revision_diff(page, live_server, log_in, bob):
    example = stack_exchange_example(7)
    log_in(page, bob)
    page.goto(live_server.url + "/review/")
    page.keyboard.press("e")
    answer = page.locator("#edit-form textarea[name=turn]").nth(1)
    expect(answer).to_be_focused()
    answer.fill(EGG_ANSWER.replace("**9 minutes** for a firm one", "**10 minutes** for a fully set one"))
    screenshot(page, "07-review-edit-in-place")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".toast")).to_contain_text(f"Saved r2 of #{example.pk}")
    expect(page.locator("#conversation")).to_contain_text("10 minutes")

    page.goto(f"{live_server.url}/examples/{example.pk}/")
    diff = page.locator("#diff")
    expect(diff.locator("ins").first).to_contain_text("10")
    expect(diff.locator("del").first).to_contain_text("9")
    expect(page.locator(".timeline-item")).to_have_count(2)
    screenshot(page, "08-example-history")

    # Revert to r1: a new revision r3 with the first content.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revert to r1").click()
    expect(page.locator(".flash-success")).to_contain_text("Reverted to r1")
    example.refresh_from_db()
    assert example.version == 3
    assert "**9 minutes** for a firm one" in example.conversation[1]


def test_two_people_editing_the_same_example_lose_nothing(browser, live_server, log_in, bob, dana):
    example = stack_exchange_example(9)
    url = f"{live_server.url}/examples/{example.pk}/"
    bob_page = log_in(browser.new_context(viewport={"width": 1440, "height": 900}), bob).new_page()
    dana_page = log_in(browser.new_context(viewport={"width": 1440, "height": 900}), dana).new_page()
    for page in (bob_page, dana_page):
        page.goto(url)
        page.get_by_role("button", name="Edit").click()
        expect(page.locator("#edit-form")).to_be_visible()

    bob_page.locator("#edit-form textarea[name=turn]").nth(1).fill("Bob's answer: six minutes, then iced water.")
    bob_page.get_by_role("button", name="Save").click()
    expect(bob_page.locator(".flash-success")).to_contain_text("Saved revision r2")

    danas_text = "Dana's answer: seven minutes gives a jammy yolk."
    dana_page.locator("#edit-form textarea[name=turn]").nth(1).fill(danas_text)
    dana_page.get_by_role("button", name="Save").click()

    conflict = dana_page.locator(".conflict")
    expect(conflict).to_contain_text("Someone else saved this example first")
    expect(conflict.locator(".conflict-theirs")).to_contain_text("Bob's answer: six minutes")
    expect(dana_page.locator("#edit-form textarea[name=turn]").nth(1)).to_have_value(danas_text)
    screenshot(dana_page, "09-edit-conflict")
    example.refresh_from_db()
    assert example.conversation[1] == "Bob's answer: six minutes, then iced water."

    # Dana has seen Bob's version; saving again now applies hers on top of it.
    dana_page.get_by_role("button", name="Save over r2").click()
    expect(dana_page.locator(".flash-success")).to_contain_text("Saved revision r3")
    example.refresh_from_db()
    assert example.conversation[1] == danas_text
    assert list(example.revisions.values_list("author__username", flat=True)) == [None, "bob", "dana"]


XSS_ANSWER = """Certainly, here is the answer.

<script>window.__xss = "script"</script>
<img src="x" onerror="window.__xss = 'img'">
[click me](javascript:window.__xss='link')
![pic](javascript:window.__xss='image')
"""


def test_a_hostile_response_does_not_run_anywhere(page, live_server, log_in, bob):
    example = stack_exchange_example(13, answer=XSS_ANSWER)
    example.metadata["url"] = "javascript:window.__xss='metadata'"
    example.save(update_fields=["metadata"])
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, bob)

    for path in (f"/review/{example.pk}/", f"/examples/{example.pk}/"):
        page.goto(live_server.url + path)
        expect(page.locator("#conversation")).to_contain_text("Certainly, here is the answer.")
        assert page.evaluate("window.__xss") is None
        assert page.locator("main script").count() == 0
        assert page.locator("main [onerror]").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0

    page.goto(live_server.url + "/write/")
    page.locator("textarea[name=turn]").nth(0).fill("Say hi")
    page.locator("textarea[name=turn]").nth(1).fill(XSS_ANSWER)
    page.locator("textarea[name=turn]").nth(1).press("End")
    expect(page.locator("#preview")).to_contain_text("Certainly, here is the answer.")
    page.locator("#preview .markdown").get_by_text("click me").first.click()
    assert page.evaluate("window.__xss") is None
    assert dialogs == []


def test_the_dashboard_shows_the_composition_and_agreement(page, live_server, log_in, bob, dana, alice):
    examples = [stack_exchange_example(n) for n in range(20, 26)]
    wikihow = get_or_create_source(Source.Kind.WIKIHOW, "wikiHow")
    create_example(source=wikihow, turns=["How to plant tomatoes?", "Planting tomatoes starts with sun. " * 60],
                   domain="Home and Garden", status="approved", split="train")
    create_example(turns=["Write a haiku about autumn.", "Leaves fall, slow and red."], status="approved",
                   split="dev")
    for example, (bob_says, dana_says) in zip(examples, [("approve", "approve"), ("approve", "needs_edit"),
                                                         ("reject", "reject"), ("approve", "reject")]):
        review_example(example, reviewer=bob, decision=bob_says, reason="low_quality" if bob_says == "reject" else "")
        example.refresh_from_db()
        review_example(example, reviewer=dana, decision=dana_says,
                       reason="low_quality" if dana_says == "reject" else "")
    log_in(page, alice)
    page.goto(live_server.url + "/dashboard/")
    # (1 + 0.5 + 1 + 0) / 4 items = 62.5 %, rounded by the template.
    expect(page.locator(".stat-card").filter(has_text="Agreement")).to_contain_text("62%")
    expect(page.locator("table.composition")).to_contain_text("Stack Exchange · other")
    expect(page.locator("svg.chart").first).to_be_visible()
    screenshot(page, "10-dashboard")
    page.get_by_role("button", name="Edit targets").click()
    page.locator("input[name=target__train__wikihow]").fill("250")
    page.get_by_role("button", name="Save targets").click()
    expect(page.locator(".flash-success")).to_contain_text("targets saved")
    expect(page.locator("table.composition")).to_contain_text("/ 250")


def test_two_reviewers_in_two_browsers_never_get_the_same_item(browser, live_server, log_in, bob, dana):
    first, second = stack_exchange_example(30), stack_exchange_example(31)
    bob_page = log_in(browser.new_context(viewport={"width": 1440, "height": 900}), bob).new_page()
    dana_page = log_in(browser.new_context(viewport={"width": 1440, "height": 900}), dana).new_page()
    bob_page.goto(live_server.url + "/review/")
    dana_page.goto(live_server.url + "/review/")
    expect(bob_page.locator(".item-title")).to_have_text(f"Example #{first.pk}")
    expect(dana_page.locator(".item-title")).to_have_text(f"Example #{second.pk}")

    # Opening Bob's item directly shows who holds it, and every decision waits.
    dana_page.goto(f"{live_server.url}/review/{first.pk}/")
    expect(dana_page.locator(".flash-warning")).to_contain_text("bob is reviewing this item")
    expect(dana_page.get_by_role("button", name="Approve")).to_be_disabled()
    dana_page.keyboard.press("a")
    screenshot(dana_page, "11-review-held-by-someone-else")
    first.refresh_from_db()
    assert (first.status, first.claimed_by) == ("candidate", bob)

    # Once Bob decides, the queue has nothing left that Dana may take but her own item.
    bob_page.keyboard.press("a")
    expect(bob_page.locator(".empty-state")).to_contain_text("Nothing left to review here")
    expect(bob_page.locator(".empty-state")).to_contain_text("1 is being reviewed by others")
    screenshot(bob_page, "12-review-queue-empty")
