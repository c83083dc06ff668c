"""The theme toggle: the choice is stored on the user and written on <html data-theme> by the server."""
import pytest

from core.models import UserPreference

pytestmark = pytest.mark.django_db


def test_a_new_user_follows_the_system_and_a_choice_is_kept_for_every_page(client_of, bob):
    client = client_of(bob)
    assert '<html lang="en" data-theme="system">' in client.get("/dashboard/").content.decode()

    response = client.post("/preferences/theme/", {"theme": "dark", "next": "/examples/"})

    assert response.status_code == 302 and response["Location"] == "/examples/"
    assert UserPreference.objects.get(user=bob).theme == "dark"
    html = client.get("/review/").content.decode()
    assert '<html lang="en" data-theme="dark">' in html
    assert 'value="dark" aria-pressed="true"' in html and 'value="light" aria-pressed="false"' in html


def test_the_toggle_answers_a_script_with_json_and_refuses_an_unknown_theme(client_of, alice):
    client = client_of(alice)
    answer = client.post("/preferences/theme/", {"theme": "light"}, HTTP_ACCEPT="application/json")
    assert answer.json() == {"theme": "light"}

    refused = client.post("/preferences/theme/", {"theme": "sepia"})

    assert refused.status_code == 400 and "expected one of system, light, dark" in refused.content.decode()
    assert UserPreference.objects.get(user=alice).theme == "light"


def test_the_toggle_goes_back_only_to_this_site_and_needs_a_login(client, client_of, bob):
    anonymous = client.post("/preferences/theme/", {"theme": "dark"})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert not UserPreference.objects.exists()
    assert client_of(bob).post("/preferences/theme/", {"theme": "dark", "next": "https://evil.example/"})["Location"] == "/"
