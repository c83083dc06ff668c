"""/imports/ and /imports/<id>/: runs with progress and counts per reason, the upload form, rescue."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from curation.imports.ingest import start_import
from curation.models import Example, ImportRun, RejectedRecord
from tests.curation.imports.builders import answer_row, qa_rows, question_row, write_jsonl, write_posts

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_run(tmp_path, alice):
    rows = qa_rows(2) + [
        question_row(20, "Why is the crema pale?"), answer_row(21, 20, body="<p>Stale <code>beans</code>.</p>"),
        question_row(22, "Is tea better?"),
        question_row(24, "Low?"), answer_row(25, 24, score=2),
    ]
    path = write_posts(tmp_path / "coffee.stackexchange.com", rows)
    return start_import("stackexchange", path, user=alice, run_async=False)


def test_the_list_shows_runs_with_status_progress_and_top_reasons(client_of, bob, finished_run):
    page = client_of(bob).get("/imports/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "coffee.stackexchange.com" in html and "badge-succeeded" in html
    assert 'role="progressbar"' in html and "100%" in html
    for reason in ("answer_too_short", "no_answer", "answer_score_below_10"):
        assert reason in html
    assert "New import" not in html  # annotators see runs, not the form
    assert 'hx-trigger="every 2s"' not in html  # nothing running: no polling


def test_the_list_polls_while_a_run_is_active(client_of, alice, tmp_path):
    run = start_import("jsonl", write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Hi", "output": "Hello"}]), user=alice)
    ImportRun.objects.filter(pk=run.pk).update(status="running", phase="reading", done=42, total=100)

    html = client_of(alice).get("/imports/runs/").content.decode()

    assert 'hx-trigger="every 2s"' in html and "42%" in html and "Reading" in html


def test_an_admin_sees_the_upload_form_and_starts_an_import_with_it(
        client_of, alice, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    client = client_of(alice)
    assert "New import" in client.get("/imports/").content.decode()
    upload = SimpleUploadedFile("prompts.jsonl", b'{"conversations": ["A prompt?"], "source": ""}\n')

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/imports/", {"kind": "jsonl", "file": upload, "seed": 0, "target": "all",
                                             "options": '{"prompt_only_split": "dev"}'})

    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{run.pk}/"
    assert run.status == "queued" and run.options == {"prompt_only_split": "dev", "seed": 0, "target": "all"}
    assert len(callbacks) == 1


def test_the_upload_form_explains_what_is_wrong(client_of, alice, tmp_path):
    response = client_of(alice).post("/imports/", {"kind": "jsonl", "path": str(tmp_path / "nope.jsonl"), "seed": 0,
                                                   "options": "{not json"})

    html = response.content.decode()
    assert response.status_code == 200 and "Not JSON" in html
    response = client_of(alice).post("/imports/", {"kind": "jsonl", "path": str(tmp_path / "nope.jsonl"), "seed": 0})
    assert "no such file or folder" in response.content.decode()
    assert ImportRun.objects.count() == 0


def test_only_admins_may_post_the_form_and_outsiders_see_nothing(client_of, bob, charlie, client, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Hi", "output": "Hello"}])

    assert client_of(bob).post("/imports/", {"kind": "jsonl", "path": str(path), "seed": 0}).status_code == 403
    assert client_of(charlie).get("/imports/").status_code == 403
    assert client.get("/imports/").status_code == 302  # to the login page
    assert ImportRun.objects.count() == 0


def test_the_detail_page_shows_counts_per_reason_and_rejected_records_with_rescue_buttons(client_of, bob, finished_run):
    html = client_of(bob).get(f"/imports/{finished_run.pk}/").content.decode()

    assert f"Import #{finished_run.pk}" in html
    assert "answer_too_short" in html and "no_answer" in html and "answer_score_below_10" in html
    assert "coffee.stackexchange.com/questions/20" in html and "Stale <code>beans</code>." in html
    assert html.count(">Rescue</button>") == 1  # records rejected on the score alone carry no text to rescue
    assert "see it on the site" in html
    assert 'hx-trigger="every 1s"' not in html  # finished: no polling


def test_the_detail_page_lists_one_reason_page_by_page(client_of, bob, finished_run):
    html = client_of(bob).get(f"/imports/{finished_run.pk}/?reason=answer_too_short").content.decode()

    assert "coffee.stackexchange.com/questions/20" in html
    assert "coffee.stackexchange.com/questions/22" not in html


def test_a_failed_run_shows_its_error(client_of, alice, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"conversations": [\n')
    run = start_import("jsonl", path, run_async=False)

    html = client_of(alice).get(f"/imports/{run.pk}/").content.decode()

    assert "The import failed." in html and "broken.jsonl, line 1" in html


def test_the_status_partial_polls_while_running_and_reloads_the_page_when_done(client_of, bob, finished_run):
    ImportRun.objects.filter(pk=finished_run.pk).update(status="running", phase="reading", done=3, total=10)
    running = client_of(bob).get(f"/imports/{finished_run.pk}/status/?was=queued")
    ImportRun.objects.filter(pk=finished_run.pk).update(status="succeeded", phase="done", done=10, total=10)
    done = client_of(bob).get(f"/imports/{finished_run.pk}/status/?was=running")

    assert 'hx-trigger="every 1s"' in running.content.decode() and "HX-Refresh" not in running
    assert done["HX-Refresh"] == "true"


def test_rescue_from_the_page_makes_a_candidate_and_shows_a_link_to_it(client_of, bob, finished_run):
    record = RejectedRecord.objects.get(import_run=finished_run, reason="answer_too_short")

    response = client_of(bob).post(f"/imports/{finished_run.pk}/rejected/{record.pk}/rescue/", HTTP_HX_REQUEST="true")

    example = Example.objects.get(external_id=record.external_id)
    assert example.status == "candidate" and example.revisions.get().author == bob
    assert f"Rescued → example #{example.pk}" in response.content.decode()
    assert ">Rescue</button>" not in response.content.decode()


def test_rescue_without_htmx_redirects_back_with_a_message(client_of, alice, finished_run):
    record = RejectedRecord.objects.get(import_run=finished_run, reason="answer_too_short")

    response = client_of(alice).post(f"/imports/{finished_run.pk}/rejected/{record.pk}/rescue/", follow=True)

    assert response.redirect_chain[0][0] == f"/imports/{finished_run.pk}/?reason=answer_too_short"
    assert "is now candidate example" in response.content.decode()
    assert Example.objects.get(external_id=record.external_id).conversation[1] == "Stale `beans`."


def test_a_record_without_text_cannot_be_rescued_and_the_page_says_why(client_of, alice, finished_run):
    record = RejectedRecord.objects.get(import_run=finished_run, reason="no_answer")

    response = client_of(alice).post(f"/imports/{finished_run.pk}/rejected/{record.pk}/rescue/", follow=True)

    assert "cannot become an example" in response.content.decode()
    assert not Example.objects.filter(external_id=record.external_id).exists()


def test_outsiders_cannot_rescue_or_open_a_run(client_of, charlie, finished_run):
    record = RejectedRecord.objects.filter(import_run=finished_run).first()

    assert client_of(charlie).get(f"/imports/{finished_run.pk}/").status_code == 403
    assert client_of(charlie).post(f"/imports/{finished_run.pk}/rejected/{record.pk}/rescue/").status_code == 403
    assert not Example.objects.filter(external_id=record.external_id).exists()


def test_a_run_that_went_quiet_is_flagged_as_possibly_stalled(client_of, bob, finished_run, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.IMPORT_HEARTBEAT_TIMEOUT = 3600  # not yet reaped (see test_ingest_reaper.py)
    ImportRun.objects.filter(pk=finished_run.pk).update(
        status="running", phase="reading", heartbeat_at=timezone.now() - timedelta(minutes=10))

    html = client_of(bob).get(f"/imports/{finished_run.pk}/").content.decode()

    assert "may have stopped" in html


def test_reasons_read_as_words_on_the_list_the_run_and_the_rule_report(client_of, alice, bob, finished_run):
    import re

    listing = client_of(bob).get("/imports/").content.decode()
    chips = re.findall(r'<span class="reason-label">([^<]*)</span>', listing)
    assert set(chips) == {"Answer too short", "No answer", "Answer score below 10"}

    detail = client_of(alice).get(f"/imports/{finished_run.pk}/").content.decode()
    names = re.findall(r'class="reason-name"[^>]*>([^<]*)<', detail)
    assert "Answer score below 10" in names and "Answer too short" in names
    assert not [name for name in names if "_" in name]  # no raw key where words belong
    assert "<strong>No answer</strong> <code class=\"reason-key\">no_answer</code>" in detail  # the rule report
    # the reasons table: a header per column, each numeric column's header and cells right-aligned alike
    table = detail[detail.index('class="table reasons-table"'):detail.index("</table>", detail.index("reasons-table"))]
    assert table.count("<col ") == 4 and table.count('<th scope="col"') == 4
    assert table.count('<th scope="col" class="num">') == 2 and 'class="num"' in table.split("<tbody>")[1]
