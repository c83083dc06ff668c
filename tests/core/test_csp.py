"""The Content-Security-Policy header: scripts and styles from our own origin only, no inline script anywhere."""
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def directives(response):
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/accounts/login/", "/review/", "/examples/", "/people/", "/account/tokens/",
                                  "/api/docs/", "/api/examples/"])
def test_pages_send_the_policy(client_of, alice, path):
    response = client_of(alice).get(path)
    assert response.status_code == 200, path
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"]


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for match in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            if "nonce=" not in match.group(0):
                offenders.append(f"{template.relative_to(TEMPLATES)}: {match.group(0)}")
        offenders += [f"{template.relative_to(TEMPLATES)}: {m.group(0)}"
                      for m in re.finditer(r"\son[a-z]+\s*=", text)]
        offenders += [f"{template.relative_to(TEMPLATES)}: hx-on" for _ in re.finditer(r"\bhx-on", text)]
    assert offenders == []


def test_the_api_docs_load_their_start_up_script_as_a_file(client_of, bob):
    page = client_of(bob).get("/api/docs/").content.decode()
    assert "<style" not in page
    script = re.search(r'<script src="([^"]*script=[^"]*)"', page).group(1).replace("&amp;", "&")
    response = client_of(bob).get(script)
    assert response.status_code == 200 and "SwaggerUIBundle" in response.content.decode()
