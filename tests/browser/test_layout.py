"""The header on a phone and the theme toggle, in a real browser: the menu button opens the nav (mouse and
keyboard), the theme applies at once and is kept on the user; without scripts the nav shows and the toggle posts."""
import pytest
from playwright.sync_api import expect

from core.models import UserPreference

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 812}


def test_on_a_phone_the_nav_opens_from_its_menu_button_by_mouse_and_keyboard(browser, live_server, log_in, bob):
    context = browser.new_context(viewport=PHONE)
    page = log_in(context.new_page(), bob)
    page.goto(live_server.url + "/dashboard/")
    toggle = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Examples")).to_be_visible()
    expect(nav.get_by_role("group", name="Data")).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(toggle).to_be_focused()

    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Examples")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url + "/examples/")
    context.close()


def test_a_wide_window_shows_every_link_without_a_menu_button(page, live_server, log_in, alice):
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, alice)
    page.goto(live_server.url + "/review/")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard")).to_be_visible()
    # a narrower window collapses it, a wider one brings the links back
    page.set_viewport_size({"width": 700, "height": 900})
    expect(page.get_by_role("button", name="Menu")).to_be_visible()
    page.set_viewport_size({"width": 1366, "height": 900})
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()


def test_the_theme_applies_at_once_and_is_kept_for_the_next_page(browser, live_server, log_in, bob):
    context = browser.new_context(color_scheme="light")
    page = log_in(context.new_page(), bob)
    page.goto(live_server.url + "/review/")
    background = "getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Dark").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.get_by_role("button", name="Dark")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(background) != light
    for _ in range(50):  # the POST runs behind the change on screen: wait for its row
        if UserPreference.objects.filter(user=bob, theme="dark").exists():
            break
        page.wait_for_timeout(100)
    assert UserPreference.objects.get(user=bob).theme == "dark"
    page.goto(live_server.url + "/examples/")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    # "System" follows the browser's setting
    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="System").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    assert page.evaluate(background) == light
    context.close()


def test_without_scripts_the_nav_shows_and_the_theme_form_posts(browser, live_server, log_in, bob):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = log_in(context.new_page(), bob)
    page.goto(live_server.url + "/review/")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets")).to_be_visible()
    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Dark").click()
    expect(page).to_have_url(live_server.url + "/review/")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert UserPreference.objects.get(user=bob).theme == "dark"
    context.close()
