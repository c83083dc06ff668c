"""Who may call what: every curation endpoint tried by anonymous, Charlie (no role), Bob (annotator), Alice (admin)."""
import json

import pytest
from rest_framework.authtoken.models import Token

from curation.datasets.export_jobs import start_export
from curation.datasets.versions import freeze_version
from curation.services import create_example

pytestmark = pytest.mark.django_db

TURNS = [{"role": "user", "text": "Q?"}, {"role": "assistant", "text": "A."}]

# method, path, body, Bob's status, Alice's status. Anonymous always gets 401 and Charlie 403.
ENDPOINTS = [
    ("get", "/api/sources/", None, 200, 200),
    ("get", "/api/sources/{source}/", None, 200, 200),
    ("get", "/api/examples/", None, 200, 200),
    ("post", "/api/examples/", {"turns": TURNS}, 201, 201),
    ("get", "/api/examples/{example}/", None, 200, 200),
    ("put", "/api/examples/{example}/", {"turns": TURNS, "version": 1}, 200, 200),
    ("patch", "/api/examples/{example}/", {"version": 1, "domain": "x"}, 200, 200),
    ("delete", "/api/examples/{loose}/", None, 403, 204),
    ("get", "/api/examples/{example}/reviews/", None, 200, 200),
    ("post", "/api/examples/{example}/reviews/", {"decision": "approve", "version": 1}, 201, 201),
    ("get", "/api/examples/{example}/revisions/", None, 200, 200),
    ("get", "/api/datasets/", None, 200, 200),
    ("post", "/api/datasets/", {"name": "v2"}, 403, 201),
    ("post", "/api/datasets/check/", {}, 403, 200),
    ("get", "/api/datasets/{version}/", None, 200, 200),
    ("get", "/api/datasets/{version}/export/?format=lima", None, 200, 200),
    ("get", "/api/datasets/{version}/diff/{version}/", None, 200, 200),
    ("get", "/api/exports/", None, 200, 200),
    ("post", "/api/exports/", {"version": "{version}", "format": "lima"}, 403, 201),
    ("get", "/api/exports/{job}/", None, 200, 200),
    ("get", "/api/exports/{job}/download/", None, 200, 200),
]
PERSONAS = ["anonymous", "charlie", "bob", "alice"]


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """Eighty-odd tests each make three users: hash their passwords cheaply (no password is checked here)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(alice, settings, tmp_path):
    """One of everything, with ids to put in the paths."""
    settings.MEDIA_ROOT = tmp_path
    example = create_example(turns=["Q?", "A."], status="approved", split="train")
    loose = create_example(turns=["Loose?", "Yes."])
    version = freeze_version("v1").version
    job = start_export(version, fmt="lima", run_async=False)  # run here: nothing reaches a worker
    return {"source": example.source_id, "example": example.pk, "loose": loose.pk, "version": version.pk, "job": job.pk}


def _fill(template, ids):
    return template.format(**ids) if isinstance(template, str) else template


def _request(client, method, path, body, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, json.dumps(body), content_type="application/json", **headers)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "path", "body", "bob_status", "alice_status"), ENDPOINTS,
                         ids=[f"{m.upper()} {p}" for m, p, *_ in ENDPOINTS])
def test_the_permission_matrix(request, client, world, persona, method, path, body, bob_status, alice_status):
    path = path.format(**world)
    if body is not None:
        body = {key: (int(_fill(value, world)) if value == "{version}" else value) for key, value in body.items()}
    token = None
    if persona != "anonymous":
        token = Token.objects.create(user=request.getfixturevalue(persona)).key

    response = _request(client, method, path, body, token)

    expected = {"anonymous": 401, "charlie": 403, "bob": bob_status, "alice": alice_status}[persona]
    assert response.status_code == expected, getattr(response, "content", b"")[:300]
    if persona == "anonymous":
        assert response["WWW-Authenticate"] == "Token"


def test_a_browser_session_works_like_a_token(client_of, bob, world):
    session = client_of(bob)
    assert session.get("/api/examples/").status_code == 200
    assert session.post("/api/datasets/", {"name": "no"}, content_type="application/json").status_code == 403
