"""/api/imports/: admins start imports, annotators read them, outsiders and anonymous callers get nothing."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from curation.imports.ingest import start_import
from curation.models import Example, ImportRun, RejectedRecord
from tests.curation.imports.builders import answer_row, lima_rows, qa_rows, question_row, write_jsonl, write_posts

pytestmark = pytest.mark.django_db


def api_as(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def chats(tmp_path):
    return write_jsonl(tmp_path / "chats.jsonl", lima_rows(3))


def test_an_admin_starts_an_import_from_a_server_path(alice, chats, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_as(alice).post("/api/imports/", {"kind": "jsonl", "path": str(chats), "seed": 4,
                                                        "target": "2", "options": {"split": "train"}}, format="json")

    assert response.status_code == 201, response.content
    run = ImportRun.objects.get(pk=response.json()["id"])
    assert response.json()["status"] == "queued" and response.json()["source"] == "chats.jsonl"
    assert run.created_by == alice and run.options == {"split": "train", "seed": 4, "target": 2}
    assert len(callbacks) == 1  # the task is handed to the worker once the run is committed


def test_an_admin_uploads_a_file_to_import(alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    upload = SimpleUploadedFile("lima_test.jsonl", b'{"conversations": ["A prompt?"], "source": ""}\n')

    response = api_as(alice).post("/api/imports/", {"kind": "jsonl", "file": upload}, format="multipart")

    assert response.status_code == 201, response.content
    run = ImportRun.objects.get()
    assert run.file.startswith(str(tmp_path / "media" / "imports")) and run.file.endswith("lima_test.jsonl")
    assert open(run.file, "rb").read() == b'{"conversations": ["A prompt?"], "source": ""}\n'


def test_an_annotator_and_an_outsider_may_not_start_imports(bob, charlie, chats):
    for user in (bob, charlie):
        response = api_as(user).post("/api/imports/", {"kind": "jsonl", "path": str(chats)}, format="json")
        assert response.status_code == 403
    assert ImportRun.objects.count() == 0


def test_an_anonymous_caller_is_told_to_authenticate(chats):
    response = api_as().post("/api/imports/", {"kind": "jsonl", "path": str(chats)}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert api_as().get("/api/imports/").status_code == 401


def test_a_token_works_like_a_session(alice, chats, django_capture_on_commit_callbacks):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")

    with django_capture_on_commit_callbacks():
        response = client.post("/api/imports/", {"kind": "jsonl", "path": str(chats)}, format="json")

    assert response.status_code == 201


def test_bad_requests_are_answered_400_and_create_nothing(alice, chats, tmp_path):
    client = api_as(alice)
    cases = [
        {"kind": "jsonl"},  # neither file nor path
        {"kind": "jsonl", "path": str(tmp_path / "missing.jsonl")},
        {"kind": "jsonl", "path": str(chats), "options": {"no_such_option": 1}},
        {"kind": "csv", "path": str(chats)},
        {"kind": "jsonl", "path": str(chats), "target": "many"},
    ]
    for data in cases:
        assert client.post("/api/imports/", data, format="json").status_code == 400, data
    assert ImportRun.objects.count() == 0


def test_annotators_read_runs_and_their_counts_but_outsiders_do_not(alice, bob, charlie, chats):
    run = start_import("jsonl", chats, user=alice, run_async=False)

    listing = api_as(bob).get("/api/imports/")
    detail = api_as(bob).get(f"/api/imports/{run.pk}/")

    assert listing.status_code == 200 and listing.json()["results"][0]["id"] == run.pk
    assert detail.json()["status"] == "succeeded" and detail.json()["created_count"] == 3
    assert detail.json()["kind"] == "jsonl" and detail.json()["created_by"] == "alice"
    assert api_as(charlie).get("/api/imports/").status_code == 403
    assert api_as(charlie).get(f"/api/imports/{run.pk}/").status_code == 403


def test_rejected_records_are_listed_by_reason_and_rescued_through_the_api(bob, charlie, tmp_path):
    rows = qa_rows(1) + [question_row(20, "Why?"), answer_row(21, 20, body="<p>Because.</p>"), question_row(22, "Tea?")]
    run = start_import("stackexchange", write_posts(tmp_path / "coffee.stackexchange.com", rows), run_async=False)
    short = RejectedRecord.objects.get(import_run=run, reason="answer_too_short")

    listing = api_as(bob).get(f"/api/imports/{run.pk}/rejected/", {"reason": "answer_too_short"})
    refused = api_as(charlie).post(f"/api/imports/{run.pk}/rescue/", {"rejected_record": short.pk}, format="json")
    rescued = api_as(bob).post(f"/api/imports/{run.pk}/rescue/", {"rejected_record": short.pk}, format="json")

    assert [row["external_id"] for row in listing.json()["results"]] == ["coffee.stackexchange.com/questions/20"]
    assert refused.status_code == 403
    assert rescued.status_code == 201
    assert Example.objects.get(pk=rescued.json()["example"]).conversation[1] == "Because."


def test_an_uploaded_site_archive_is_imported_under_the_site_its_name_says(alice, settings, tmp_path):
    import py7zr

    from core.jobs.runner import run_here

    settings.MEDIA_ROOT = tmp_path / "media"
    posts = write_posts(tmp_path / "dump", qa_rows(2)).read_bytes()
    archive = tmp_path / "cooking.stackexchange.com.7z"
    with py7zr.SevenZipFile(archive, "w") as out:
        out.writestr(posts, "Posts.xml")
    upload = SimpleUploadedFile("cooking.stackexchange.com.7z", archive.read_bytes())

    response = api_as(alice).post("/api/imports/", {"kind": "stackexchange", "file": upload}, format="multipart")
    run = run_here(ImportRun.objects.get(pk=response.json()["id"]))

    assert response.json()["source"] == "cooking.stackexchange.com"
    assert run.status == "succeeded" and run.created_count == 2
    assert set(Example.objects.values_list("domain", flat=True)) == {"cooking.stackexchange.com"}
