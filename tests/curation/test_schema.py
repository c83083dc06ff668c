"""The OpenAPI 3 schema, the Swagger UI served without a CDN, and a bounded schemathesis run with no 5xx."""
import re

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.contrib.staticfiles import finders
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from curation.datasets.versions import freeze_version
from curation.services import create_example

pytestmark = pytest.mark.django_db

OUR_PATHS = r"^/api/(sources|examples|datasets|exports)/"


def test_the_schema_is_openapi_3_and_lists_every_curation_endpoint(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/sources/", "/api/examples/", "/api/examples/{id}/", "/api/examples/{id}/reviews/",
        "/api/examples/{id}/revisions/", "/api/datasets/", "/api/datasets/check/", "/api/datasets/{id}/",
        "/api/datasets/{id}/export/", "/api/datasets/{id}/diff/{other}/", "/api/exports/", "/api/exports/{id}/download/",
    ):
        assert path in schema["paths"], path
    export_params = {p["name"]: p for p in schema["paths"]["/api/datasets/{id}/export/"]["get"]["parameters"]}
    assert sorted(export_params["format"]["schema"]["enum"]) == ["alpaca", "hf", "lima", "openai", "parquet", "sharegpt"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_swagger_ui_is_served_from_vendored_files_not_a_cdn(client):
    page = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in assets
    assert "/static/vendor/swagger-ui/swagger-ui.css" in assets
    assert not [asset for asset in assets if asset.startswith(("http:", "https:", "//"))]
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "favicon-32x32.png"):
        assert finders.find(f"vendor/swagger-ui/{asset}"), asset
    assert django_settings.SPECTACULAR_SETTINGS["SWAGGER_UI_DIST"] == "/static/vendor/swagger-ui"


def _schema():
    from config.wsgi import application

    # Loaded at collection: building the schema reads no database.
    return schemathesis.openapi.from_wsgi("/api/schema/", application).include(path_regex=OUR_PATHS)


schema = _schema()


@pytest.fixture
def seeded(alice):
    """A little data for the generated requests to find, and a token to send."""
    create_example(turns=["Seed prompt?", "Seed answer."], split="train", status="approved")
    create_example(turns=["A test prompt"], split="test", status="approved")
    freeze_version("seed")
    token, _ = Token.objects.get_or_create(user=alice)
    return token.key


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """Django's own test client does this: a request served by the plain WSGI handler would otherwise close
    the connection that holds the test's transaction when it finishes."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_operation_answers_with_a_server_error(case, seeded, wsgi_keeps_the_test_connection):
    case.call_and_validate(headers={"Authorization": f"Token {seeded}"}, checks=[not_a_server_error])
