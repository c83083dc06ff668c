"""A flash about a job follows the job: "queued for a GPU worker" leaves the screen once the run is cancelled
(from another tab, the API, a colleague), while the status card says it was cancelled."""
import json

import pytest
from playwright.sync_api import expect

from core.jobs.runner import cancel
from curation.models import ImportRun
from training.models import TrainingRun

from ..training.runs_helpers import frozen_version
from .test_training import CHATS, tiny_demo, tiny_model_dir  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("tiny_demo")
def test_the_queued_notice_goes_once_the_training_run_is_cancelled(page, live_server, log_in, alice):
    frozen_version(CHATS, name="lima v1")
    log_in(page, alice)
    page.goto(live_server.url + "/training/new/")
    page.get_by_role("link", name="Quick demo preset").click()
    page.get_by_role("button", name="Start training").click()

    notice = page.locator(".messages .flash", has_text="is queued for a GPU worker")
    expect(notice).to_be_visible()  # no GPU worker in this test: it stays queued
    expect(page.locator("#run-status .badge").first).to_have_text("Queued")

    cancel(TrainingRun.objects.get())  # elsewhere: the page learns it by polling

    expect(page.locator("#run-status .badge").first).to_have_text("Cancelled")
    expect(page.locator("#run-status")).to_contain_text("was cancelled")
    expect(notice).to_have_count(0)
    expect(page.locator("#run-status")).not_to_contain_text("Waiting for a GPU worker")


def test_the_queued_notice_of_an_import_goes_too(page, live_server, log_in, alice, tmp_path, settings):
    settings.IMPORT_ROOTS = [str(tmp_path)]  # a server path is read only under the configured roots
    path = tmp_path / "talk.jsonl"
    path.write_text(json.dumps({"instruction": "Say hello.", "output": "Hello!"}) + "\n")
    log_in(page, alice)
    page.goto(live_server.url + "/imports/")
    page.locator("select[name=kind]").select_option("jsonl")
    page.locator("input[name=path]").fill(str(path))
    page.get_by_role("button", name="Start import").click()
    notice = page.locator(".messages .flash", has_text="is queued for the worker")
    expect(notice).to_be_visible()

    cancel(ImportRun.objects.get())

    expect(page.locator("#import-status .badge")).to_have_text("Cancelled")
    expect(page.locator("#import-status")).to_contain_text("The import was cancelled")
    expect(notice).to_have_count(0)
