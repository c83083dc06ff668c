"""Playwright against pytest-django's live server, driving Debian's chromium headless.

Browser tests are marked `@pytest.mark.browser` and `@pytest.mark.django_db(transaction=True)` (the live server
runs in another thread and must see committed data). They are skipped, with the reason, where /usr/bin/chromium
is missing: `apt-get install -y chromium` (Playwright's own download cannot run on these machines).
"""
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

# Playwright's sync API runs an event loop in the test thread; the fixtures still use the ORM there.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
HERE = Path(__file__).resolve().parent


def _in_browser_tests(item):
    return HERE in Path(str(item.fspath)).resolve().parents


def pytest_collection_modifyitems(config, items):
    # The session's Celery worker takes every job once it has started: browser tests that need a job to stay
    # queued (tests/browser/test_job_notices.py) run before the first test that starts it.
    items.sort(key=lambda item: _in_browser_tests(item) and "celery_worker" in getattr(item, "fixturenames", ()))
    if CHROMIUM.exists():
        return
    if os.environ.get("REQUIRE_BROWSER"):
        # CI installs chromium: there a missing browser is a broken setup, not a reason to skip.
        raise pytest.UsageError(f"REQUIRE_BROWSER is set but {CHROMIUM} is missing")
    skip = pytest.mark.skip(reason=f"browser tests need Debian's chromium at {CHROMIUM}: apt-get install -y chromium")
    for item in items:
        if _in_browser_tests(item):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}, "locale": "en-GB"}


def screenshot(page, name):
    """Save the whole page as tests/browser/screenshots/<name>.png (git-ignored) and return the path."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # a scrolled page repeats its sticky bar in a full-page capture
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def log_in(live_server):
    """log_in(context_or_page, user): the browser context gets a logged-in session cookie for the live server."""

    def log_in_as(target, user):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context = getattr(target, "context", target)
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
        return target

    return log_in_as
