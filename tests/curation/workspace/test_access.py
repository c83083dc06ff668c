"""Who may open the workspace: annotators and admins; a user with no role gets 403; strangers log in first."""
import pytest

from curation.services import create_example

pytestmark = pytest.mark.django_db


@pytest.fixture
def example(bob):
    return create_example(turns=["How do I boil an egg?", "Boil it for nine minutes."], author=bob)


def pages(example):
    return ["/review/", f"/review/{example.pk}/", f"/review/step/?after={example.pk}", "/write/",
            f"/examples/{example.pk}/", f"/examples/{example.pk}/edit/", f"/examples/{example.pk}/diff/?a=1&b=1",
            "/dashboard/", "/examples/", "/examples/?q=egg&sort=-response"]


def posts(example):
    return [
        ("/write/", {"turn": ["Q?", "A."], "split": "train"}),
        ("/write/preview/", {"turn": ["Q?", "A."]}),
        (f"/review/{example.pk}/decide/", {"decision": "approve", "version": 1}),
        (f"/review/{example.pk}/split/", {"split": "dev", "version": 1}),
        (f"/examples/{example.pk}/edit/", {"turn": ["Q?", "B."], "version": 1}),
        (f"/examples/{example.pk}/revert/", {"number": 1, "version": 1}),
        ("/dashboard/targets/", {"target__train__wikihow": 10}),
        ("/examples/bulk/", {"action": "approve", "item": [f"{example.pk}:1"]}),
    ]


def test_the_home_page_leads_to_the_review_queue(client_of, bob):
    response = client_of(bob).get("/")
    assert (response.status_code, response["Location"]) == (302, "/review/")


def test_every_page_asks_a_stranger_to_log_in_first(client, example):
    for url in pages(example):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    for url, data in posts(example):
        assert client.post(url, data).status_code == 302, url


def test_a_user_without_a_role_gets_403_everywhere(client_of, charlie, example):
    client = client_of(charlie)
    for url in pages(example):
        assert client.get(url).status_code == 403, url
    for url, data in posts(example):
        assert client.post(url, data).status_code == 403, url
    example.refresh_from_db()
    assert (example.version, example.reviews.count()) == (1, 0)


def test_annotators_and_admins_open_every_page(client_of, alice, bob, example):
    for user in (alice, bob):
        client = client_of(user)
        for url in pages(example):
            assert client.get(url).status_code == 200, (user, url)


def test_the_navigation_bar_shows_the_name_and_role(client_of, bob):
    html = client_of(bob).get("/write/").content.decode()
    assert '<span class="user-name">bob</span>' in html
    assert "badge-annotator" in html
    assert 'action="/accounts/logout/"' in html


def test_only_admins_edit_the_composition_targets(client_of, alice, bob):
    assert client_of(bob).post("/dashboard/targets/", {"target__train__wikihow": 10}).status_code == 403
    assert "Edit targets" not in client_of(bob).get("/dashboard/").content.decode()
    assert "Edit targets" in client_of(alice).get("/dashboard/").content.decode()


def test_forms_without_a_csrf_token_are_refused(bob, example):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.post("/write/", {"turn": ["Q?", "A."], "split": "train"}).status_code == 403
    assert client.post(f"/review/{example.pk}/decide/", {"decision": "approve", "version": 1},
                       HTTP_HX_REQUEST="true").status_code == 403
    page = client.get("/review/").content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
