"""UPLOAD_MAX_BYTES: a larger upload is refused with a message before anything is stored, on the form and the
API; one under the limit goes through."""
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from curation.models import ImportRun
from tests.curation.imports.builders import lima_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploading")
    (tmp_path / "uploading").mkdir()
    settings.UPLOAD_MAX_BYTES = 4000
    return tmp_path


def chats(size):
    text = "".join(json.dumps(row) + "\n" for row in lima_rows(200))[:size]
    return SimpleUploadedFile("chats.jsonl", text.encode(), content_type="application/x-ndjson")


def stored(tmp_path):
    return [p for p in (tmp_path / "media").rglob("*") if p.is_file()] + list((tmp_path / "uploading").iterdir())


def test_the_api_refuses_a_large_upload_before_storing_it(alice, media):
    client = APIClient()
    client.force_authenticate(alice)
    response = client.post("/api/imports/", {"kind": "jsonl", "file": chats(20_000)}, format="multipart")
    assert response.status_code == 413
    assert "over the limit UPLOAD_MAX_BYTES=4,000 (3.9\xa0KB). Nothing was stored." in response.json()["file"]
    assert "chats.jsonl" in response.json()["file"]
    assert stored(media) == [] and not ImportRun.objects.exists()


def test_the_form_refuses_a_large_upload_with_the_same_message(alice, client_of, media):
    response = client_of(alice).post("/imports/", {"kind": "jsonl", "seed": 0, "file": chats(20_000)})
    assert response.status_code == 413
    assert "over the limit UPLOAD_MAX_BYTES=4,000" in response.content.decode()
    assert stored(media) == [] and not ImportRun.objects.exists()


def test_an_upload_under_the_limit_is_imported(alice, media):
    client = APIClient()
    client.force_authenticate(alice)
    text = "".join(json.dumps(row) + "\n" for row in lima_rows(3))
    upload = SimpleUploadedFile("chats.jsonl", text.encode())
    response = client.post("/api/imports/", {"kind": "jsonl", "file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    assert [p.name for p in stored(media)] == ["chats.jsonl"]


def test_a_body_without_a_length_is_counted_as_it_streams(media, settings):
    from django.core.files.uploadhandler import StopUpload
    from django.test import RequestFactory

    from curation.imports.uploads import LimitedUploadHandler

    request = RequestFactory().post("/")
    handler = LimitedUploadHandler(request)
    handler.handle_raw_input(None, {}, 0, b"x")
    handler.new_file("file", "big.jsonl", "application/octet-stream", None)
    handler.receive_data_chunk(b"x" * 3000, 0)
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"x" * 3000, 3000)
    assert "larger than its Content-Length said" in request.upload_refused
