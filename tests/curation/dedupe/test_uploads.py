"""Trustworthy uploads: the file keeps its name in a folder named by its content, a Stack Exchange source is named
after its site (from the upload's name, or the name a person gives), the same content is imported once, and a text
another source already has is linked to it rather than created twice."""
import hashlib
import html

import py7zr
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.jobs.runner import run_here
from curation.imports.ingest import start_import
from curation.models import Example, ImportRun, RejectedRecord, Source
from tests.curation.imports.builders import lima_rows, qa_rows, write_jsonl, write_posts

pytestmark = pytest.mark.django_db


def posts_bytes(tmp_path, count=2):
    return write_posts(tmp_path / "built", qa_rows(count)).read_bytes()


def upload(client, filename, content, **fields):
    return client.post("/imports/", {"kind": "stackexchange", "file": SimpleUploadedFile(filename, content), "seed": 0,
                                     "target": "all", **fields})


def archive(tmp_path, name, posts):
    path = tmp_path / name
    with py7zr.SevenZipFile(path, "w") as out:
        out.writestr(posts, "Posts.xml")
    return path.read_bytes()


def test_an_uploaded_site_archive_keeps_its_name_under_its_content_hash_and_names_the_source(
        client_of, alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    content = archive(tmp_path, "coffee.stackexchange.com.7z", posts_bytes(tmp_path))

    response = upload(client_of(alice), "coffee.stackexchange.com.7z", content)

    run = run_here(ImportRun.objects.get())
    digest = hashlib.sha256(content).hexdigest()
    assert response.status_code == 302
    assert run.file == str(tmp_path / "media" / "imports" / digest / "coffee.stackexchange.com.7z")
    assert run.file_sha256 == digest
    assert run.source.name == "coffee.stackexchange.com" and run.status == "succeeded"
    assert set(Example.objects.values_list("domain", flat=True)) == {"coffee.stackexchange.com"}


def test_a_bare_posts_xml_upload_needs_a_name_and_then_is_that_site(client_of, alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    client = client_of(alice)

    refused = upload(client, "Posts.xml", posts_bytes(tmp_path))

    page = html.unescape(refused.content.decode())
    assert refused.status_code == 200 and "does not tell which Stack Exchange site" in page
    assert 'id="id_name"' in page and ImportRun.objects.count() == 0 and Source.objects.count() == 0

    upload(client, "Posts.xml", posts_bytes(tmp_path), name="cooking.stackexchange.com")

    run = run_here(ImportRun.objects.get())
    assert run.source.name == "cooking.stackexchange.com" and run.status == "succeeded"
    assert set(Example.objects.values_list("domain", flat=True)) == {"cooking.stackexchange.com"}
    assert not Source.objects.filter(name__regex=r"^[0-9a-f]{32,}$").exists()  # never a folder's hash


def test_a_posts_xml_in_a_site_folder_is_that_site_by_path(tmp_path):
    path = write_posts(tmp_path / "coffee.stackexchange.com", qa_rows(1))

    run = start_import("stackexchange", path, run_async=False)

    assert run.source.name == "coffee.stackexchange.com"
    assert Example.objects.get().domain == "coffee.stackexchange.com"


def test_uploading_the_same_file_again_says_so_and_creates_nothing(client_of, alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    client = client_of(alice)
    content = archive(tmp_path, "coffee.stackexchange.com.7z", posts_bytes(tmp_path, 3))
    upload(client, "coffee.stackexchange.com.7z", content)
    first = run_here(ImportRun.objects.get())
    assert first.created_count == 3

    again = upload(client, "coffee.stackexchange.com.7z", content)
    shown = client.get(again["Location"])

    assert again.status_code == 302 and again["Location"] == f"/imports/{first.pk}/"
    assert f"already imported as run #{first.pk}" in html.unescape(shown.content.decode()).lower()
    assert ImportRun.objects.count() == 1 and Example.objects.count() == 3
    # the API answers the same, with the earlier run
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(alice)
    answer = api.post("/api/imports/", {"kind": "stackexchange", "seed": 0, "target": "all",
                                        "file": SimpleUploadedFile("coffee.stackexchange.com.7z", content)},
                      format="multipart")
    assert answer.status_code == 200 and answer.json()["id"] == first.pk and answer.json()["already_imported"]
    assert ImportRun.objects.count() == 1


def test_the_import_command_says_already_imported(tmp_path):
    import io
    import json

    from django.core.management import call_command

    path = write_jsonl(tmp_path / "chats.jsonl", lima_rows(2))
    call_command("import_source", "jsonl", str(path), stdout=io.StringIO())
    first = ImportRun.objects.get()
    out = io.StringIO()

    call_command("import_source", "jsonl", str(path), "--json", stdout=out)

    lines = out.getvalue().strip().splitlines()
    assert f"Already imported as run #{first.pk}" in lines[0]
    assert json.loads(lines[-1])["import_run"] == first.pk and json.loads(lines[-1])["already_imported"] is True
    assert ImportRun.objects.count() == 1


def test_a_text_another_source_has_is_linked_to_it_not_created_twice(tmp_path):
    answer = ("Water just off the boil, four minutes, then press slowly. " * 3).strip()
    first = write_jsonl(tmp_path / "a.jsonl", [{"conversations": ["How long do I steep coffee?", answer], "source": ""}])
    second = write_jsonl(tmp_path / "b.jsonl", [
        {"conversations": ["A different way to ask about coffee steeping?", "  " + answer.upper() + " "], "source": ""},
        {"conversations": ["how long do I steep   coffee", "Another answer entirely, about tea."], "source": ""},
        {"conversations": ["Something new?", "A new answer."], "source": ""},
    ])
    original = start_import("jsonl", first, run_async=False).examples.get()

    run = start_import("jsonl", second, run_async=False)

    assert run.created_count == 1 and run.rejected_by_reason == {"exact_duplicate": 2}
    linked = RejectedRecord.objects.filter(import_run=run, reason="exact_duplicate").order_by("external_id")
    assert {(r.metadata["duplicate_of"], r.metadata["duplicate_kind"]) for r in linked} == {
        (original.pk, "response"), (original.pk, "prompt")}
    assert Example.objects.count() == 2
