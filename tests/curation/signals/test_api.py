"""GET /api/examples/{id}/similar/ and /api/semantic-search/, with the examples API's access rules."""
import pytest
from rest_framework.test import APIClient

from curation.signals.jobs import start_run

pytestmark = pytest.mark.django_db


def api(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_similar_lists_the_nearest_examples_with_their_scores(bob, topics):
    start_run("embedding", run_async=False)

    response = api(bob).get(f"/api/examples/{topics['bread'].pk}/similar/", {"k": 2})

    assert response.status_code == 200, response.data
    results = response.json()["results"]
    assert [hit["id"] for hit in results][0] == topics["bread2"].pk and len(results) == 2
    assert results[0]["score"] >= results[1]["score"]


def test_semantic_search_finds_by_meaning(bob, topics):
    start_run("embedding", run_async=False)

    response = api(bob).get("/api/semantic-search/", {"q": "insomnia", "k": 1})

    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == topics["sleep"].pk


def test_bad_parameters_are_refused_naming_them(bob, topics):
    assert "q" in api(bob).get("/api/semantic-search/", {"q": " "}).json()
    assert "k" in api(bob).get("/api/semantic-search/", {"q": "bread", "k": "lots"}).json()
    assert api(bob).get("/api/examples/999999/similar/").status_code == 404


def test_strangers_and_people_without_a_role_are_kept_out(charlie, topics):
    pk = topics["bread"].pk
    assert api().get(f"/api/examples/{pk}/similar/").status_code == 401
    assert api(charlie).get(f"/api/examples/{pk}/similar/").status_code == 403
    assert api(charlie).get("/api/semantic-search/", {"q": "bread"}).status_code == 403
