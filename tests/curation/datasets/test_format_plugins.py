"""An export format is one entry: registered from this test module alone, with no other edit, a format shows on
the dataset page, streams through the API, queues as a background export, writes through the command and
appears in the schema."""
import io

import pytest
from django.core.management import call_command

from curation.datasets.formats import EXPORT_FORMATS, ExportFormat, all_formats, register, unregister
from curation.datasets.versions import freeze_version
from curation.services import create_example

pytestmark = pytest.mark.django_db


def tab_separated(items, metadata=True):
    """One line a conversation: the id (with metadata) and the turns, tab-separated."""
    for item in items:
        fields = ([str(item.id)] if metadata else []) + [turn.replace("\t", " ") for turn in item.turns]
        yield ("\t".join(fields) + "\n").encode("utf-8")


@pytest.fixture
def tsv():
    fmt = register(ExportFormat(
        name="tsv", label="Tab-separated", note="One conversation a line, turns in columns",
        content_type="text/tab-separated-values; charset=utf-8", extension="tsv", stream=tab_separated,
    ))
    yield fmt
    unregister("tsv")


@pytest.fixture
def version():
    create_example(turns=["What is a roux?", "Flour cooked in fat."], split="train", status="approved")
    create_example(turns=["Why do cats purr?"], split="test", status="approved")
    return freeze_version("v").version


def test_the_built_in_formats_are_declared_where_they_are_written():
    assert list(EXPORT_FORMATS) == ["lima", "openai", "sharegpt", "alpaca", "parquet", "hf"]
    modules = {fmt.name: (fmt.stream or fmt.write_folder).__module__ for fmt in all_formats()}
    assert modules == {"lima": "curation.datasets.formats.jsonl", "openai": "curation.datasets.formats.jsonl",
                       "sharegpt": "curation.datasets.formats.jsonl", "alpaca": "curation.datasets.formats.jsonl",
                       "parquet": "curation.datasets.formats.parquet", "hf": "curation.datasets.formats.hf"}


def test_a_registered_format_shows_on_the_dataset_page(tsv, version, client_of, alice):
    page = client_of(alice).get(f"/datasets/{version.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Tab-separated" in html and "One conversation a line, turns in columns" in html
    assert "?format=tsv&amp;split=train" in html and f"lima-v{version.pk}-tsv-all.tsv" in html
    assert '<option value="tsv">' in html  # the background export form


def test_a_registered_format_streams_through_the_api(tsv, version, client_of, bob):
    response = client_of(bob).get(f"/api/datasets/{version.pk}/export/?format=tsv&split=train")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/tab-separated-values; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="lima-v{version.pk}-tsv-train.tsv"'
    body = b"".join(response.streaming_content).decode()
    assert body.endswith("\tWhat is a roux?\tFlour cooked in fat.\n") and body.count("\n") == 1


def test_a_registered_format_queues_as_a_background_export(tsv, version, client_of, alice):
    queued = client_of(alice).post("/api/exports/", {"version": version.pk, "format": "tsv"},
                                   content_type="application/json")
    assert queued.status_code == 201, queued.content
    assert queued.json()["format"] == "tsv"


def test_a_registered_format_writes_through_the_command(tsv, version, tmp_path):
    out = tmp_path / "all.tsv"
    call_command("export_dataset", str(version.pk), "--format", "tsv", "--no-metadata", "--out", str(out),
                 stderr=io.StringIO())
    assert out.read_text() == "What is a roux?\tFlour cooked in fat.\nWhy do cats purr?\n"


def test_a_registered_format_is_a_choice_in_the_schema(tsv, client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    export = schema["paths"]["/api/datasets/{id}/export/"]["get"]
    formats = next(p for p in export["parameters"] if p["name"] == "format")["schema"]["enum"]
    assert "tsv" in formats and "lima" in formats


def test_an_unregistered_format_is_refused_by_name(version, client_of, bob):
    refused = client_of(bob).get(f"/api/datasets/{version.pk}/export/?format=tsv")
    assert refused.status_code == 400 and "tsv" in str(refused.json()["format"])
