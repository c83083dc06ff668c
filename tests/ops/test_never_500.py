"""Wrong parameters are 400s naming them; a file that is not UTF-8 is a 400 naming its line; a cache outage
degrades to computing. None of them is a 500."""
import pytest

from inference.results import study_results
from inference.studies import create_study, next_item
from tests.inference.test_studies import label_as, two_runs

pytestmark = pytest.mark.django_db

CLOSED_PORT_CACHE = {"default": {"BACKEND": "core.cache.DegradingRedisCache", "LOCATION": "redis://127.0.0.1:9/0",
                                 "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}}


@pytest.mark.parametrize("query", ["after=abc", "before=abc", "after=%C2%B2", "after=99999999999999999999", "after=-1"])
def test_a_review_step_from_a_wrong_id_is_a_400_naming_it(client_of, bob, query):
    response = client_of(bob).get(f"/review/step/?{query}")
    assert response.status_code == 400
    assert response.content.decode().startswith(query.split("=")[0] + ": expected the id of a row")


def test_a_review_step_from_a_right_id_still_steps(client_of, bob):
    assert client_of(bob).get("/review/step/?after=0").status_code in (200, 302)


def test_a_mask_preview_of_a_wrong_version_id_is_a_400(client_of, alice):
    response = client_of(alice).get("/training/mask-preview/", {"dataset_version": "abc"})
    assert response.status_code == 400 and "dataset_version" in response.content.decode()


def test_importing_responses_that_are_not_utf8_is_a_400_naming_the_line(client_of, alice, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    content = b'{"id": 1, "response": "fine", "prompt": "Hi?"}\n{"id": 2, "response": "caf\xe9", "prompt": "Hi?"}\n'
    response = client_of(alice).post("/api/generation-runs/import/", {
        "name": "latin-1 model", "responses": SimpleUploadedFile("answers.jsonl", content),
    })
    assert response.status_code == 400
    detail = str(response.json())
    assert ":2: not UTF-8 text" in detail and "0xe9" in detail


def _a_labelled_study(alice):
    a, b = two_runs(n=3)
    study = create_study(name="Cached", runs=[a, b], seed=2)
    for item, outcome in zip(study.items.select_related("left", "right"), ["win", "win", "tie"]):
        next_item(study, alice)
        label_as(alice, item, a, outcome)
    return study


def test_study_results_answer_while_the_cache_is_down(client_of, alice, settings):
    study = _a_labelled_study(alice)
    expected = study_results(study)

    # when Redis is unreachable (nothing listens on port 9)
    settings.CACHES = CLOSED_PORT_CACHE
    client = client_of(alice)

    # then the page, the API and the downloads compute what the cache would have held
    page = client.get(f"/studies/{study.pk}/")
    assert page.status_code == 200 and "66.7%" in page.content.decode()
    api = client.get(f"/api/studies/{study.pk}/results/")
    assert api.status_code == 200 and api.json()["ranking"] == expected["ranking"]
    assert client.get(f"/studies/{study.pk}/results.json").status_code == 200
    assert client.get(f"/studies/{study.pk}/results.csv").status_code == 200


def test_the_stock_redis_backend_would_have_failed(settings):
    from django.core.cache.backends.redis import RedisCache

    stock = RedisCache("redis://127.0.0.1:9/0", {"OPTIONS": {"socket_connect_timeout": 0.5}})
    with pytest.raises(Exception, match="(?i)connect"):
        stock.get("anything")
