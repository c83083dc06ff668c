"""API tokens: several named ones per user, listed and revoked by their owner, revoked on a password change and
on deactivation; the token endpoint still answers `{"token": ...}`."""
import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token as LegacyToken
from rest_framework.test import APIClient

from core.people.models import ApiToken, AuditEntry
from core.people.tokens import issue_token

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def api(key=None):
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_token_endpoint_issues_a_new_named_token_each_time(bob):
    first = api().post("/api/auth/token/", {"username": "bob", "password": PASSWORD}, format="json")
    second = api().post("/api/auth/token/", {"username": "bob", "password": PASSWORD, "name": "nightly export"},
                        format="json")
    assert first.status_code == second.status_code == 200
    assert first.json()["token"] != second.json()["token"]
    assert sorted(ApiToken.objects.filter(user=bob).values_list("name", flat=True)) == [
        "POST /api/auth/token/", "nightly export"]
    # only digests are stored
    assert not ApiToken.objects.filter(key_hash__in=[first.json()["token"], second.json()["token"]]).exists()
    assert api(first.json()["token"]).get("/api/examples/").status_code == 200
    assert ApiToken.objects.get(name="POST /api/auth/token/").last_used_at is not None
    assert api().post("/api/auth/token/", {"username": "bob", "password": "nope"}, format="json").status_code == 400


def test_a_user_lists_and_revokes_their_own_tokens(client_of, bob, alice):
    token, key = issue_token(bob, "laptop")
    _, other_key = issue_token(bob, "server")
    _, alices = issue_token(alice, "alice's")
    bobs = client_of(bob)
    page = bobs.get("/account/tokens/").content.decode()
    assert "laptop" in page and "server" in page and token.prefix in page and "alice&#x27;s" not in page
    assert key not in page  # the key itself is never shown again

    assert bobs.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert api(key).get("/api/examples/").status_code == 401
    assert api(other_key).get("/api/examples/").status_code == 200
    alices_token = ApiToken.objects.get(user=alice)
    assert bobs.post(f"/account/tokens/{alices_token.pk}/revoke/").status_code == 404
    assert api(alices).get("/api/examples/").status_code == 200


def test_the_tokens_page_makes_a_token_and_shows_its_key_once(client_of, bob):
    bobs = client_of(bob)
    assert bobs.post("/account/tokens/", {"name": "notebook"}).status_code == 302
    page = bobs.get("/account/tokens/").content.decode()
    key = page.split('id="new-token"', 1)[0].rsplit('value="', 1)[1].split('"', 1)[0]
    assert key.startswith("lima_") and api(key).get("/api/examples/").status_code == 200
    assert key not in bobs.get("/account/tokens/").content.decode()


def test_a_password_change_revokes_every_token_legacy_ones_too(client, client_of, bob):
    _, key = issue_token(bob, "laptop")
    legacy = LegacyToken.objects.create(user=bob).key
    assert api(legacy).get("/api/examples/").status_code == 200

    bobs = client_of(bob)
    new = "a different horse entirely"
    response = bobs.post("/account/password/", {"old_password": PASSWORD, "new_password1": new,
                                                "new_password2": new})
    assert response.status_code == 302
    assert api(key).get("/api/examples/").status_code == 401
    assert api(legacy).get("/api/examples/").status_code == 401
    assert bobs.get("/review/").status_code == 200  # this session is kept
    assert [e.action for e in AuditEntry.objects.order_by("pk")] == ["password_changed", "tokens_revoked"]


def test_changepassword_from_the_shell_revokes_tokens_too(bob):
    _, key = issue_token(bob, "laptop")
    bob.set_password("something else entirely")
    bob.save()
    assert api(key).get("/api/examples/").status_code == 401


def test_a_rehash_of_the_same_password_keeps_the_tokens(bob, settings):
    _, key = issue_token(bob, "laptop")
    # A stronger hasher than the stored one: the next correct check re-hashes the same password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    stored = bob.password
    assert bob.check_password(PASSWORD)
    bob.refresh_from_db()
    assert bob.password != stored
    assert api(key).get("/api/examples/").status_code == 200


def test_deactivation_revokes_tokens(client_of, alice, bob):
    _, key = issue_token(bob, "laptop")
    client_of(alice).post(f"/people/{bob.pk}/active/", {"active": "0"})
    assert not ApiToken.objects.filter(user=bob).exists()
    assert api(key).get("/api/examples/").status_code == 401
    entry = AuditEntry.objects.get(action="tokens_revoked")
    assert entry.target == bob and entry.after["reason"] == "deactivated"


def test_logout_ends_the_session_but_keeps_api_tokens(client, bob):
    _, key = issue_token(bob, "script")
    client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert client.get("/review/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/review/").status_code == 302
    assert api(key).get("/api/examples/").status_code == 200  # documented: tokens are for scripts


def test_the_number_of_tokens_is_bounded(bob, settings):
    settings.API_TOKENS_PER_USER = 2
    for _ in range(2):
        assert api().post("/api/auth/token/", {"username": "bob", "password": PASSWORD}).status_code == 200
    refused = api().post("/api/auth/token/", {"username": "bob", "password": PASSWORD})
    assert refused.status_code == 400 and "API_TOKENS_PER_USER" in refused.json()["detail"]


def test_every_token_revoke_is_refused_to_anonymous_visitors(client, bob):
    token, _ = issue_token(bob, "laptop")
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_the_system_checks_pass_with_axes_and_csp_configured():
    call_command("check")  # axes wants its backend first and django-csp its 4.x settings: both are checked here
