"""Exports of a frozen version: every format's shape, determinism, Parquet and HF folders, CLI, background jobs."""
import io
import json
import tarfile
import time

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from curation.datasets import exports
from curation.datasets.export_jobs import job_path
from curation.datasets.exports import ExportItem, iter_export_chunks, write_export
from curation.datasets.formats import ExportFormat, register, unregister
from curation.datasets.formats.parquet import iter_parquet_chunks
from curation.datasets.versions import freeze_version
from curation.models import ExportJob, Source
from curation.services import create_example, get_or_create_source

pytestmark = pytest.mark.django_db

MULTI = ["What is 2+2?", "4.", "And times 3?", "12."]


@pytest.fixture
def version():
    """A version with a single-turn train example (with attribution), a multi-turn one, and a test prompt."""
    se = get_or_create_source(Source.Kind.STACKEXCHANGE, "cooking.stackexchange.com", licence="CC BY-SA 4.0")
    create_example(
        turns=["How do I keep basil fresh?", "Stand it in water."], source=se, external_id="q42", split="train",
        status="approved", domain="cooking", metadata={"url": "https://cooking.stackexchange.com/q/42", "score": 17},
    )
    create_example(turns=MULTI, split="train", status="approved")
    create_example(turns=["Why do cats purr?"], split="test", status="approved")
    return freeze_version("v").version


def lines(version, fmt, split=None, metadata=True):
    data = b"".join(iter_export_chunks(version, fmt, split, metadata))
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def test_lima_rows_carry_conversations_source_and_attribution(version):
    first, multi, prompt = lines(version, "lima")
    assert first["conversations"] == ["How do I keep basil fresh?", "Stand it in water."]
    assert first["source"] == "stackexchange"
    assert first["split"] == "train" and isinstance(first["id"], int)
    assert first["attribution"] == {
        "source_name": "cooking.stackexchange.com", "external_id": "q42", "revision": 1, "licence": "CC BY-SA 4.0",
        "url": "https://cooking.stackexchange.com/q/42", "score": 17,
    }
    assert multi["conversations"] == MULTI
    assert prompt["conversations"] == ["Why do cats purr?"] and prompt["split"] == "test"


def test_metadata_false_leaves_only_the_format_itself(version):
    assert [sorted(row) for row in lines(version, "lima", metadata=False)] == [["conversations", "source"]] * 3
    assert [sorted(row) for row in lines(version, "openai", metadata=False)] == [["messages"]] * 3


def test_openai_rows_are_messages_with_roles(version):
    multi = lines(version, "openai")[1]
    assert multi["messages"] == [
        {"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4."},
        {"role": "user", "content": "And times 3?"}, {"role": "assistant", "content": "12."},
    ]


def test_sharegpt_rows_speak_human_and_gpt(version):
    multi = lines(version, "sharegpt")[1]
    assert [turn["from"] for turn in multi["conversations"]] == ["human", "gpt", "human", "gpt"]
    assert [turn["value"] for turn in multi["conversations"]] == MULTI


def test_alpaca_rows_are_single_turn_with_earlier_turns_in_history(version):
    single, multi, prompt = lines(version, "alpaca", metadata=False)
    assert single == {"instruction": "How do I keep basil fresh?", "input": "", "output": "Stand it in water.", "history": []}
    assert multi == {"instruction": "And times 3?", "input": "", "output": "12.", "history": [["What is 2+2?", "4."]]}
    assert prompt == {"instruction": "Why do cats purr?", "input": "", "output": "", "history": []}


def test_a_split_exports_only_its_rows(version):
    assert [row["split"] for row in lines(version, "lima", split="test")] == ["test"]
    assert len(lines(version, "openai", split="train")) == 2


@pytest.mark.parametrize("fmt", exports.EXPORT_FORMATS)
def test_the_same_version_and_format_give_byte_identical_output(version, fmt):
    first = b"".join(iter_export_chunks(version, fmt))
    second = b"".join(iter_export_chunks(version, fmt))
    assert first and first == second


def test_parquet_has_the_columns_and_one_row_group_per_block_of_rows():
    items = [ExportItem(i, "train", "manual", [f"q{i}", f"a{i}"], {"revision": 1}) for i in range(5)]
    chunks = list(iter_parquet_chunks(iter(items), metadata=True, rows_per_group=2))
    assert len(chunks) >= 3  # bytes leave as each row group is written, not all at the end
    parquet = pq.ParquetFile(io.BytesIO(b"".join(chunks)))
    assert parquet.num_row_groups == 3
    table = parquet.read()
    assert table.column_names == ["id", "split", "source", "conversations", "attribution"]
    assert table.column("conversations").to_pylist()[4] == ["q4", "a4"]
    assert json.loads(table.column("attribution")[0].as_py()) == {"revision": 1}


def test_parquet_export_of_a_version_reads_back(version):
    table = pq.read_table(io.BytesIO(b"".join(iter_export_chunks(version, "parquet", metadata=False))))
    assert table.column_names == ["id", "split", "source", "conversations"]
    assert table.column("conversations").to_pylist()[1] == MULTI


def test_hf_export_is_a_datasets_folder_with_train_dev_and_test(version, tmp_path):
    from datasets import load_from_disk

    write_export(version, "hf", tmp_path / "lima")
    loaded = load_from_disk(str(tmp_path / "lima"))
    assert {name: len(split) for name, split in loaded.items()} == {"train": 2, "dev": 0, "test": 1}
    assert loaded["train"][1]["conversations"] == MULTI

    archive = tarfile.open(fileobj=io.BytesIO(b"".join(iter_export_chunks(version, "hf"))))
    names = archive.getnames()
    assert f"lima-v{version.pk}-all-all/dataset_dict.json" in names
    assert all(member.mtime == 0 for member in archive.getmembers())


def test_export_dataset_command_writes_the_file(version, tmp_path):
    out = tmp_path / "train.jsonl"
    call_command("export_dataset", str(version.pk), "--format", "sharegpt", "--split", "train", "--out", str(out),
                 stderr=io.StringIO())
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["conversations"][0]["from"] == "human"
    assert out.read_bytes() == b"".join(iter_export_chunks(version, "sharegpt", "train"))


def test_export_dataset_command_leaves_nothing_behind_when_it_fails(version, tmp_path):
    def broken(items, metadata=True):
        yield b"{\"half\": "
        raise RuntimeError("disk on fire")

    register(ExportFormat(name="broken", label="Broken", note="fails halfway", content_type="application/x-ndjson",
                          extension="jsonl", stream=broken))
    out = tmp_path / "out.jsonl"
    try:
        with pytest.raises(RuntimeError, match="disk on fire"):
            call_command("export_dataset", str(version.pk), "--format", "broken", "--out", str(out),
                         stderr=io.StringIO())
    finally:
        unregister("broken")
    assert list(tmp_path.iterdir()) == []


def test_export_dataset_command_names_what_is_wrong(version, tmp_path):
    with pytest.raises(CommandError, match="No dataset version #999"):
        call_command("export_dataset", "999", "--format", "lima", "--out", str(tmp_path / "x"))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_dataset", str(version.pk), "--format", "lima", "--out", str(tmp_path / "no" / "x"))


def test_export_examples_still_writes_every_jsonl_format(version, tmp_path):
    out = tmp_path / "all.jsonl"
    call_command("export_examples", "--format", "openai", "--out", str(out), stderr=io.StringIO())
    assert len(out.read_text().splitlines()) == 3


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_background_export_writes_a_file_with_progress_and_can_be_downloaded(
    celery_worker, alice, client_of
):
    create_example(turns=["Q?", "A."], split="train", status="approved")
    create_example(turns=["Prompt only"], split="test", status="approved")
    version = freeze_version("bg").version
    client = client_of(alice)

    started = client.post("/api/exports/", {"version": version.pk, "format": "lima", "split": "train"},
                          content_type="application/json")
    assert started.status_code == 201, started.content
    job_id = started.json()["id"]
    assert started.json()["total"] == 1

    deadline = time.monotonic() + 60
    while True:
        job = client.get(f"/api/exports/{job_id}/").json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["status"] == "succeeded", job
    assert job["done"] == 1 and job["progress"] == 1.0 and job["size_bytes"] > 0

    download = client.get(job["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"".join(iter_export_chunks(version, "lima", "train"))
    written = ExportJob.objects.get(pk=job_id)
    assert written.file.startswith("exports/")
    job_path(written).unlink()
