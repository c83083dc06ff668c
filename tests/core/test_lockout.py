"""Login throttling (django-axes): after AXES_FAILURE_LIMIT failures in a row, the web login and the token endpoint
stop checking passwords for that username from that address, refuse even the right one, until an admin unlocks."""
import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import call_command
from rest_framework.test import APIClient

from core.people.models import AuditEntry

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


class CountingHasher(MD5PasswordHasher):
    """The test's hasher: MD5 (fast), counting how many passwords were really checked."""

    checked = 0

    def verify(self, password, encoded):
        CountingHasher.checked += 1
        return super().verify(password, encoded)


@pytest.fixture
def counted(settings):
    settings.PASSWORD_HASHERS = ["tests.core.test_lockout.CountingHasher"]
    CountingHasher.checked = 0
    return CountingHasher


@pytest.fixture
def bob_counted(counted, bob):
    bob.set_password(PASSWORD)
    bob.save()
    return bob


def web_login(client, password, username="bob"):
    return client.post("/accounts/login/", {"username": username, "password": password})


def token_login(password, username="bob"):
    return APIClient().post("/api/auth/token/", {"username": username, "password": password}, format="json")


def test_400_wrong_passwords_on_the_web_login_are_not_all_checked(client, settings, counted, bob_counted):
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [web_login(client, f"guess {i}").status_code for i in range(400)]
    # the form again with its error, until the failure that reaches the limit answers with the locked-out page
    assert statuses[:limit] == [200] * (limit - 1) + [429]
    assert set(statuses[limit:]) == {429}
    assert counted.checked == settings.AXES_FAILURE_LIMIT

    # the right password is refused while locked, with the locked-out page
    response = web_login(client, PASSWORD)
    assert response.status_code == 429 and b"Too many failed logins" in response.content
    assert b"ask an admin to unlock you" in response.content
    assert "_auth_user_id" not in client.session


def test_400_wrong_passwords_on_the_token_endpoint_are_not_all_checked(settings, counted, bob_counted):
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [token_login(f"guess {i}").status_code for i in range(400)]
    assert statuses[:limit] == [400] * (limit - 1) + [429]
    assert set(statuses[limit:]) == {429}
    assert counted.checked == settings.AXES_FAILURE_LIMIT
    locked = token_login(PASSWORD)
    assert locked.status_code == 429 and "Too many failed logins" in locked.json()["detail"]
    assert "token" not in locked.json()


def test_web_and_api_failures_count_together(client, settings, bob):
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        assert web_login(client, f"guess {i}").status_code == 200
    assert token_login("one more").status_code == 429
    assert token_login(PASSWORD).status_code == 429


def test_an_admin_unlocks_from_the_people_page(client, client_of, settings, alice, bob):
    for i in range(settings.AXES_FAILURE_LIMIT):
        web_login(client, f"guess {i}")
    assert web_login(client, PASSWORD).status_code == 429
    page = client_of(alice).get("/people/").content.decode()
    assert "Locked logins" in page and "Unlock bob" in page

    assert client_of(alice).post("/people/unlock/", {"username": "bob"}).status_code == 302
    assert web_login(client, PASSWORD).status_code == 302
    entry = AuditEntry.objects.get(action="unlocked")
    assert (entry.actor_name, entry.target_name) == ("alice", "bob")
    assert "Unlock bob" not in client_of(alice).get("/people/").content.decode()


def test_axes_reset_from_the_shell_unlocks_too(client, settings, bob):
    for i in range(settings.AXES_FAILURE_LIMIT):
        web_login(client, f"guess {i}")
    assert token_login(PASSWORD).status_code == 429
    call_command("axes_reset_username", "bob")
    assert token_login(PASSWORD).status_code == 200
    assert not AccessAttempt.objects.exists()


def test_another_username_from_the_same_address_is_not_locked(client, settings, alice, bob):
    for i in range(settings.AXES_FAILURE_LIMIT + 3):
        web_login(client, f"guess {i}", username="alice")
    assert web_login(client, PASSWORD, username="alice").status_code == 429
    assert web_login(client, PASSWORD, username="bob").status_code == 302


def test_the_lock_lifts_after_the_cool_off(client, settings, bob):
    for i in range(settings.AXES_FAILURE_LIMIT):
        web_login(client, f"guess {i}")
    assert web_login(client, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time="2000-01-01T00:00Z")
    assert web_login(client, PASSWORD).status_code == 302
