"""People and access in a real browser: an admin invites an annotator, who accepts through the mailed link, logs
in and works; every page loads under the Content-Security-Policy without a single violation."""
import re

import pytest
from playwright.sync_api import expect

from curation.services import create_example

from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a quiet lighthouse keeper"


def log_in_with_the_form(page, live_server, username, password):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_an_admin_invites_an_annotator_who_accepts_and_works(browser, live_server, alice, mailoutbox):
    create_example(turns=["How do I keep basil fresh?", "Stand it in a glass of water, like cut flowers."])
    create_example(turns=["How do I keep mint fresh?", "Wrap it in a damp towel in the fridge."])  # alice claims one
    admin = browser.new_context().new_page()

    # given an admin on the People page, reached from the account menu
    log_in_with_the_form(admin, live_server, "alice", PASSWORD)
    expect(admin).to_have_url(re.compile(r"/review/"))
    admin.locator(".usermenu summary").click()
    admin.locator(".usermenu").get_by_role("link", name="People").click()
    expect(admin.get_by_role("heading", name="People", exact=True)).to_be_visible()

    # when she invites erin as an annotator
    admin.locator("#id_invite-username").fill("erin")
    admin.locator("#id_invite-email").fill("erin@example.org")
    admin.locator("#id_invite-role").select_option("annotator")
    admin.get_by_role("button", name="Send invitation").click()

    # then the page shows the link once, and the same link went out by mail
    expect(admin.get_by_role("heading", name="Invitation for erin")).to_be_visible()
    shown = admin.locator("#invite-link").input_value()
    assert len(mailoutbox) == 1 and shown in mailoutbox[0].body and mailoutbox[0].to == ["erin@example.org"]
    expect(admin.locator(".audit-table")).to_contain_text("invited")
    screenshot(admin, "people-01-invited")

    # when erin opens the link, sets a password and logs in
    invitee = browser.new_context().new_page()
    invitee.goto(shown)
    expect(invitee.get_by_role("heading", name="Welcome to LIMA Studio")).to_be_visible()
    invitee.locator("input[name=new_password1]").fill("erin")
    invitee.locator("input[name=new_password2]").fill("erin")
    invitee.get_by_role("button", name="Set password").click()
    expect(invitee.locator("form")).to_contain_text("too short")
    expect(invitee.locator("form")).to_contain_text("too similar to the username")
    invitee.locator("input[name=new_password1]").fill(NEW_PASSWORD)
    invitee.locator("input[name=new_password2]").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Set password").click()
    expect(invitee).to_have_url(re.compile(r"/accounts/login/\?username=erin"))
    expect(invitee.get_by_label("Username")).to_have_value("erin")
    invitee.get_by_label("Password").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Log in").click()

    # then she is an annotator on the review queue, with no People entry
    expect(invitee).to_have_url(re.compile(r"/review/"))
    expect(invitee.locator(".topbar .user-name")).to_have_text("erin")
    expect(invitee.locator(".topbar .badge")).to_have_text("annotator")
    expect(invitee.locator(".item-title")).to_contain_text("Example #")
    expect(invitee.locator(".topbar").get_by_role("link", name="People")).to_have_count(0)
    invitee.goto(live_server.url + "/people/")
    expect(invitee.get_by_role("heading", name="Not allowed")).to_be_visible()
    screenshot(invitee, "people-02-annotator")

    # and the link is spent
    invitee.goto(shown)
    expect(invitee.get_by_role("heading", name="This invitation link does not work")).to_be_visible()

    # the admin sees the acceptance, makes her an admin, then deactivates her
    admin.goto(live_server.url + "/people/")
    expect(admin.locator(".audit-table")).to_contain_text("accepted an invitation")
    row = admin.locator(".people-table tr", has_text="erin")
    row.locator("select[name=role]").select_option("admin")
    row.get_by_role("button", name="Set role").click()
    expect(admin.locator(".flash")).to_contain_text("erin is now admin")
    admin.locator(".people-table tr", has_text="erin").get_by_role("button", name="Deactivate").click()
    expect(admin.locator(".flash")).to_contain_text("erin is deactivated")
    invitee.goto(live_server.url + "/review/")
    expect(invitee).to_have_url(re.compile(r"/accounts/login/"))
    screenshot(admin, "people-03-audit")


def test_a_user_makes_and_revokes_an_api_token(page, live_server, log_in, bob):
    log_in(page, bob)
    page.goto(live_server.url + "/review/")
    page.locator(".usermenu summary").click()
    page.get_by_role("link", name="API tokens and password").click()
    expect(page.get_by_role("heading", name="Your API tokens")).to_be_visible()
    page.get_by_label("Name").fill("nightly export")
    page.get_by_role("button", name="Make token").click()
    key = page.locator("#new-token").input_value()
    assert key.startswith("lima_")
    status = page.request.get(live_server.url + "/api/examples/", headers={"Authorization": f"Token {key}"}).status
    assert status == 200
    page.get_by_role("button", name="Revoke nightly export").click()
    expect(page.locator(".flash")).to_contain_text("no longer works")
    context = page.context.browser.new_context()
    assert context.request.get(live_server.url + "/api/examples/",
                               headers={"Authorization": f"Token {key}"}).status == 401


PAGES = ["/review/", "/examples/", "/proposals/", "/duplicates/", "/write/", "/imports/", "/datasets/",
         "/training/", "/studies/", "/playground/", "/dashboard/", "/people/", "/account/tokens/",
         "/account/password/", "/signals/"]


def test_the_pages_and_the_api_docs_raise_no_csp_violation(page, live_server, log_in, alice):
    create_example(turns=["Why is the sky blue?", "Air scatters blue light more than red."])
    violations = []
    page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text else None)
    page.on("pageerror", lambda error: violations.append(f"{page.url}: {error}"))

    page.goto(live_server.url + "/accounts/login/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    log_in(page, alice)
    for path in PAGES:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")

    page.goto(live_server.url + "/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("LIMA Studio API", timeout=20_000)
    expect(page.locator(".opblock").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    screenshot(page, "people-04-api-docs")
    assert violations == []
