"""GET /api/: a root with links to the schema, the docs, the token endpoint and every collection; the API's
human fields (labels, durations) come from core.labels and core.duration."""
import pytest

pytestmark = pytest.mark.django_db


def test_the_api_root_links_the_schema_the_docs_and_every_collection(client):
    response = client.get("/api/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200  # no login needed to find the docs
    body = response.json()
    assert body["schema"].endswith("/api/schema/") and body["docs"].endswith("/api/docs/")
    assert body["token"].endswith("/api/auth/token/")
    assert {"imports", "examples", "datasets", "exports", "training-runs", "studies"} <= set(body["collections"])
    for url in (body["schema"], body["docs"], body["collections"]["imports"]):
        path = url.removeprefix("http://testserver")
        assert client.get(path).status_code in (200, 401)  # each link resolves (collections need a token)


def test_the_api_root_is_not_a_debug_page_even_with_debug_on(client, settings):
    settings.DEBUG = True
    response = client.get("/api/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and "Page not found" not in response.content.decode()


def test_the_schema_describes_reasons_and_statuses_in_words(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    record = components["RejectedRecord"]["properties"]
    assert "`answer_score_below_N`: Answer score below N" in record["reason"]["description"]
    assert "`meta_site`: Meta site" in record["reason"]["description"] and "reason_label" in record
    run = components["ImportRun"]["properties"]
    assert {"status_label", "duration_text", "phase_label"} <= set(run)
    statuses = schema["components"]["schemas"]["JobStatusEnum"]["description"]
    assert "`cancelled` - Cancelled" in statuses


def test_a_job_in_the_api_says_its_status_and_duration_in_words(client_of, alice, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from curation.imports.ingest import start_import
    from curation.models import ImportRun
    from tests.curation.imports.builders import write_jsonl

    run = start_import("jsonl", write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Hi", "output": "Hello"}]), user=alice)
    started = timezone.now() - timedelta(minutes=5)
    ImportRun.objects.filter(pk=run.pk).update(status="cancelled", started_at=started,
                                               finished_at=started + timedelta(seconds=159.437879))

    body = client_of(alice).get(f"/api/imports/{run.pk}/").json()
    assert body["status_label"] == "Cancelled" and body["duration_text"] == "2 min 39 s"
