"""/api/datasets/: freezing with warnings and refusals, the check, streamed exports, diffs."""
import io
import json

import pyarrow.parquet as pq
import pytest

from curation.datasets.exports import iter_export_chunks
from curation.datasets.versions import freeze_version
from curation.models import DatasetVersion
from curation.services import create_example, edit_example

pytestmark = pytest.mark.django_db

LEAKED = "Describe in detail how a suspension bridge carries the weight of the traffic crossing it every single day."


@pytest.fixture
def api(client_of, alice):
    return client_of(alice)


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def test_freezing_returns_the_version_its_manifest_and_the_contamination_warnings(api, alice):
    train = create_example(turns=["Bridges?", f"Someone asked: {LEAKED} Cables and towers."], split="train",
                           status="approved")
    test = create_example(turns=[LEAKED], split="test", status="approved")
    create_example(turns=["Draft?", "Draft."], split="train")  # a candidate: not selected by default

    frozen = post(api, "/api/datasets/", {"name": "v1", "description": "first"})

    assert frozen.status_code == 201, frozen.content
    body = frozen.json()
    version = DatasetVersion.objects.get(pk=body["id"])
    assert body["content_hash"] == version.content_hash and len(body["content_hash"]) == 64
    assert body["example_count"] == 2 and body["created_by"] == "alice"
    assert body["manifest"]["by_split"] == {"train": 1, "test": 1}
    assert [(w["kind"], w["eval_example"], w["train_example"]) for w in body["warnings"]] == [
        ("near", test.pk, train.pk)
    ]


def test_freezing_with_a_selection_and_refusing_duplicates_or_bad_fields(api):
    create_example(turns=["Same?", "Same."], split="train", status="approved", tags=["a"])
    create_example(turns=["Same?", "Same."], split="train", status="approved")
    create_example(turns=["Other?", "Other."], split="dev", status="candidate", tags=["a"])

    dupes = post(api, "/api/datasets/", {"name": "all"})
    assert dupes.status_code == 400
    assert len(dupes.json()["duplicates"]) == 1 and "Exact duplicates in train" in dupes.json()["selection"][0]

    tagged = post(api, "/api/datasets/", {"name": "tagged", "selection": {"tags": ["a"], "status": ""}})
    assert tagged.status_code == 201 and tagged.json()["example_count"] == 2

    bad = post(api, "/api/datasets/", {"name": "bad", "selection": {"splits": ["validation"]}})
    assert bad.status_code == 400 and "splits" in bad.json()["selection"]
    assert post(api, "/api/datasets/", {"name": "none", "selection": {"domains": ["nowhere"]}}).status_code == 400
    assert DatasetVersion.objects.count() == 1


def test_the_check_previews_counts_duplicates_and_contamination_without_freezing(api):
    one = create_example(turns=["Same?", "Same."], split="train", status="approved")
    two = create_example(turns=["Same?", "Same."], split="train", status="approved")
    create_example(turns=["same"], split="test", status="approved")
    report = post(api, "/api/datasets/check/", {"selection": {"status": "approved"}})
    assert report.status_code == 200
    body = report.json()
    assert body["examples"] == 3 and body["by_split"] == {"train": 2, "test": 1}
    assert body["duplicates"] == [[one.pk, two.pk]] and body["can_freeze"] is False
    assert body["contamination_count"] == 2
    assert DatasetVersion.objects.count() == 0


def test_list_and_detail(api):
    create_example(turns=["Q?", "A."], split="train", status="approved")
    version = freeze_version("v").version
    listed = api.get("/api/datasets/").json()
    assert [row["id"] for row in listed["results"]] == [version.pk]
    assert "manifest" not in listed["results"][0]
    detail = api.get(f"/api/datasets/{version.pk}/").json()
    assert detail["manifest"]["examples"] == 1 and detail["selection"]["status"] == "approved"


@pytest.fixture
def version():
    create_example(turns=["Q1?", "A1."], split="train", status="approved")
    create_example(turns=["Q2?", "A2.", "Q3?", "A3."], split="train", status="approved")
    create_example(turns=["Prompt only"], split="test", status="approved")
    return freeze_version("v").version


def test_an_export_streams_jsonl_with_a_file_name(api, version):
    response = api.get(f"/api/datasets/{version.pk}/export/?format=openai&split=train")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert response["Content-Disposition"] == f'attachment; filename="lima-v{version.pk}-openai-train.jsonl"'
    assert response["X-Content-Hash"] == version.content_hash
    body = b"".join(response.streaming_content)
    assert body == b"".join(iter_export_chunks(version, "openai", "train"))
    assert [len(json.loads(line)["messages"]) for line in body.splitlines()] == [2, 4]


def test_an_export_ignores_the_accept_header_and_honours_metadata_false(api, version):
    response = api.get(f"/api/datasets/{version.pk}/export/?format=lima&metadata=false", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    rows = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert rows[2] == {"conversations": ["Prompt only"], "source": "manual"}


def test_a_parquet_export_through_the_api_reads_back(api, version):
    response = api.get(f"/api/datasets/{version.pk}/export/?format=parquet")
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(b"".join(response.streaming_content)))
    assert table.num_rows == 3 and table.column("split").to_pylist() == ["train", "train", "test"]


def test_an_export_names_a_bad_format_split_or_flag(api, version):
    bad_format = api.get(f"/api/datasets/{version.pk}/export/?format=csv")
    assert bad_format.status_code == 400 and "format" in bad_format.json()
    assert "split" in api.get(f"/api/datasets/{version.pk}/export/?format=lima&split=validation").json()
    assert "metadata" in api.get(f"/api/datasets/{version.pk}/export/?format=lima&metadata=maybe").json()
    assert api.get("/api/datasets/999/export/?format=lima").status_code == 404


def test_the_diff_endpoint_lists_added_removed_and_changed(api, alice, version):
    first = version.items.order_by("pk").first().example
    edit_example(first, expected_version=first.version, author=alice, turns=["Q1?", "A1, edited."])
    added = create_example(turns=["New?", "New."], split="dev", status="approved")
    newer = freeze_version("v2").version
    diff = api.get(f"/api/datasets/{version.pk}/diff/{newer.pk}/").json()
    assert diff == {
        "old": version.pk, "new": newer.pk, "added": [added.pk], "removed": [],
        "changed": [{"example": first.pk, "old_revision": 1, "new_revision": 2, "changed": ["turns"]}],
        "unchanged": 2,
    }
    assert api.get(f"/api/datasets/{version.pk}/diff/999/").status_code == 404
