"""Every page, checked by axe-core (static/vendor/axe.min.js) in a real browser: for an admin and an annotator,
at 1366 and 375 px, in the light and the dark theme. No serious or critical violation, no sideways scroll; a
screenshot of each under VAR_DIR/screenshots/a11y/ (CI keeps var/). The state is built once and each
(role, width, theme) shares one browser context."""
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from core.theme import set_theme

from . import a11y_state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "static" / "vendor" / "axe.min.js"
WIDTHS = {"wide": {"width": 1366, "height": 900}, "phone": {"width": 375, "height": 812}}
THEMES = ("light", "dark")
SERIOUS = ("serious", "critical")
# The test injects axe and evaluates its own expressions, which the pages' Content-Security-Policy (no eval, no
# foreign script) would refuse; the policy itself is checked by tests/browser/test_people.py's CSP test.
BYPASS_CSP = True


def pages(ids):
    """(slug, path, action): every page of the app but the admin site; action runs after loading (a state)."""
    i = ids
    return [
        ("dashboard", "/dashboard/", None),
        ("review", "/review/", None),
        ("review-item", f"/review/{i['example']}/", None),
        ("examples", "/examples/", None),
        ("example", f"/examples/{i['example']}/", None),
        ("example-edit", f"/examples/{i['example']}/", "edit"),
        ("write", "/write/", None),
        ("imports", "/imports/", None),
        ("import", f"/imports/{i['import']}/", None),
        ("rejected", f"/imports/{i['import']}/?tab=rejected", None),
        ("duplicates", "/duplicates/", None),
        ("proposals", "/proposals/", None),
        ("proposal", f"/proposals/{i['proposal']}/", None),
        ("signals", "/signals/", None),
        ("datasets", "/datasets/", None),
        ("dataset", f"/datasets/{i['version']}/", None),
        ("dataset-diff", f"/datasets/{i['other_version']}/diff/{i['version']}/", None),
        ("training", "/training/", None),
        ("training-new", "/training/new/", None),
        ("training-run", f"/training/{i['training']}/", None),
        ("training-compare", f"/training/compare/?runs={i['training']}", None),
        ("generations", "/generations/", None),
        ("generation", f"/generations/{i['generation']}/", None),
        ("drafts", "/generations/drafts/", None),
        ("draft", f"/generations/drafts/{i['draft']}/", None),
        ("studies", "/studies/", None),
        ("study-new", "/studies/new/", None),
        ("study-pairwise", f"/studies/{i['pairwise']}/", None),
        ("study-rating", f"/studies/{i['rating']}/", None),
        ("annotate", f"/studies/{i['open_study']}/annotate/", None),
        ("playground", "/playground/", None),
        ("endpoints", "/endpoints/", None),
        ("endpoint", f"/endpoints/{i['endpoint']}/", None),
        ("people", "/people/", None),
        ("account-tokens", "/account/tokens/", None),
        ("account-password", "/account/password/", None),
        ("not-found", "/no-such-page/", None),
    ]


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 6).map(n => n.target.join(" ") + "  ← " + (n.failureSummary || "").split("\\n").slice(1, 2).join(""))}));
}"""


def check(page, where, found, shots, slug, overflow):
    for violation in page.evaluate(AXE_RUN):
        found.append({**violation, "page": where})
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        overflow.append(f"{where}: scrollWidth {width[0]} > {width[1]}")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / f"{slug}.png"), full_page=True)


def visit_all(context, base, pages_, found, overflow, shots, tag, role):
    page = context.new_page()
    seen = []
    for slug, path, action in pages_:
        response = page.goto(base + path)
        where = f"{tag} {path}" + (f" [{action}]" if action else "")
        if response.status == 403 and role == "annotator":
            seen.append(f"{slug} (403)")
            slug = "forbidden"
            if (shots / f"{slug}.png").exists():
                continue
        page.wait_for_function("document.fonts.status === 'loaded' && !document.querySelector('.htmx-request')")
        if action == "edit":
            page.get_by_role("button", name="Edit").first.click()
            page.wait_for_selector("#edit-form")
        check(page, where, found, shots, slug, overflow)
        seen.append(slug)
    # the header's menus open: the collapsed nav (a phone) and the account menu with the theme toggle
    page.goto(base + "/dashboard/")
    toggle = page.locator(".nav-toggle")
    if toggle.is_visible():
        toggle.click()
        assert toggle.get_attribute("aria-expanded") == "true"
        check(page, f"{tag} /dashboard/ [menu open]", found, shots, "menu-open", overflow)
        toggle.click()
    page.locator(".usermenu summary").click()
    check(page, f"{tag} /dashboard/ [account menu open]", found, shots, "account-menu-open", overflow)
    page.close()
    return seen


# ~290 page visits in one test (the state is built once): about 4 minutes on a quiet 2-core runner, 10 on a busy one.
@pytest.mark.timeout(1800)
def test_every_page_has_no_serious_accessibility_violation(browser, live_server, alice, bob, shared_data):
    started = time.monotonic()
    ids = a11y_state.build(alice, bob, shared_data)
    built = time.monotonic() - started
    found, overflow, report = [], [], []
    root = Path(settings.VAR_DIR) / "screenshots" / "a11y"
    for role, user in (("admin", alice), ("annotator", bob)):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        for theme in THEMES:
            set_theme(user, theme)
            for viewport in WIDTHS.values():
                tag = f"{role}/{viewport['width']}px/{theme}"
                shots = root / f"{role}-{viewport['width']}-{theme}"
                shots.mkdir(parents=True, exist_ok=True)
                context = browser.new_context(viewport=viewport, color_scheme=theme, locale="en-GB", bypass_csp=BYPASS_CSP)
                context.add_init_script(path=str(AXE))
                context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
                seen = visit_all(context, live_server.url, pages(ids), found, overflow, shots, tag, role)
                report.append(f"{tag}: {len(seen)} pages: {', '.join(seen)}")
                context.close()
    # the login page, logged out, in both schemes and widths
    for theme in THEMES:
        for viewport in WIDTHS.values():
            context = browser.new_context(viewport=viewport, color_scheme=theme, locale="en-GB", bypass_csp=BYPASS_CSP)
            context.add_init_script(path=str(AXE))
            page = context.new_page()
            page.goto(live_server.url + "/accounts/login/")
            shots = root / f"anonymous-{viewport['width']}-{theme}"
            shots.mkdir(parents=True, exist_ok=True)
            check(page, f"anonymous/{viewport['width']}px/{theme} /accounts/login/", found, shots, "login", overflow)
            context.close()
    serious = [v for v in found if v["impact"] in SERIOUS]
    lines = [f"state built in {built:.1f} s; pages checked in {time.monotonic() - started - built:.1f} s", *report,
             f"violations: {len(serious)} serious or critical, {len(found) - len(serious)} moderate or minor"]
    for v in found:
        lines.append(f"  [{v['impact']}] {v['id']} on {v['page']}: {v['help']}")
        lines.extend(f"      {target}" for target in v["targets"])
    lines.extend(overflow)
    (root / "report.txt").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
    assert not overflow, "pages scroll sideways:\n" + "\n".join(overflow)
    assert not serious, f"{len(serious)} serious or critical violations (listed above)"
