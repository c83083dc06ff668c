"""The OpenAPI 3 schema, the Swagger UI served without a CDN, and a bounded schemathesis run with no 5xx."""
import re

import pytest
from django.conf import settings as django_settings
from django.contrib.staticfiles import finders

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


# Every operation is fuzzed by schemathesis in tests/ops/test_api_fuzz.py (server paths confined to the test's
# folder, 0 5xx); this module checks the schema itself.
