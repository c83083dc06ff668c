"""schemathesis over every operation of the OpenAPI schema, as an admin: no request answers 5xx.

Server paths stay inside the test's temporary folder: the one operation that takes a path on the server (an
admin import's `path`) is given a file of the test's own, whatever schemathesis generated; uploads and exports go
to a MEDIA_ROOT under the same folder.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from curation.datasets.versions import freeze_version
from curation.services import create_example

pytestmark = pytest.mark.django_db


def _schema():
    from config.wsgi import application

    loaded = schemathesis.openapi.from_wsgi("/api/schema/", application)
    # Bounded: no extra requests with methods an operation does not have (DRF answers them 405 by itself;
    # tests/curation/test_schema.py still tries them on the curation paths).
    loaded.config.phases.coverage.unexpected_methods = set()
    return loaded


schema = _schema()


@pytest.fixture
def confined(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TRAINING_OUTPUT_ROOT = str(tmp_path / "training")
    settings.MODEL_DIRS = []
    if hasattr(settings, "IMPORT_ROOTS"):
        settings.IMPORT_ROOTS = [str(tmp_path / "imports")]
    server_file = tmp_path / "imports" / "chats.jsonl"
    server_file.parent.mkdir()
    server_file.write_text('{"conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello."}]}\n')
    return server_file


@pytest.fixture
def seeded(alice):
    create_example(turns=["Seed prompt?", "Seed answer."], split="train", status="approved")
    create_example(turns=["A test prompt"], split="test", status="approved")
    freeze_version("seed")
    token, _ = Token.objects.get_or_create(user=alice)
    return token.key


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """As Django's test client does: the plain WSGI handler would close the connection holding the test's transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _confine_server_paths(case, server_file):
    if isinstance(case.body, dict) and "path" in case.body:
        case.body["path"] = str(server_file)


@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_operation_answers_with_a_server_error(case, seeded, confined, wsgi_keeps_the_test_connection):
    _confine_server_paths(case, confined)
    case.call_and_validate(headers={"Authorization": f"Token {seeded}"}, checks=[not_a_server_error])
