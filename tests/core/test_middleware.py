"""A NUL in a query parameter is refused with 400 naming it, on pages and in the API, before any database sees it."""
import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/examples/?search=a%00b", "/api/examples/?domain=%00", "/api/examples/?source=1%00"])
def test_the_api_names_the_parameter(client_of, bob, url):
    response = client_of(bob).get(url)
    assert response.status_code == 400
    name = url.split("?")[1].split("=")[0]
    assert response.json()["field"] == name and "NUL" in response.json()["detail"]


@pytest.mark.parametrize("url", ["/review/?domain=%00", "/examples/?q=a%00b"])
def test_pages_answer_400_in_words(client_of, bob, url):
    response = client_of(bob).get(url)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_ordinary_queries_pass(client_of, bob):
    assert client_of(bob).get("/api/examples/?search=heron").status_code == 200
