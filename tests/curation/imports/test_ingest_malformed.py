"""A malformed file fails its run with the file and the line or offset named, and leaves nothing behind."""
import json

import pytest
import zstandard

from curation.imports import ingest
from curation.imports.ingest import start_import
from curation.models import Example, ImportRun, RejectedRecord
from tests.curation.imports.builders import lima_rows, qa_rows, question_row, write_jsonl, write_posts

pytestmark = pytest.mark.django_db


def import_now(kind, path, **kwargs):
    return start_import(kind, path, run_async=False, **kwargs)


def assert_failed_with_nothing_left(run, *fragments):
    assert run.status == ImportRun.Status.FAILED
    for fragment in fragments:
        assert fragment in run.error
    assert not Example.objects.filter(import_run=run).exists()
    assert not RejectedRecord.objects.filter(import_run=run).exists()
    assert (run.created_count, run.updated_count, run.accepted_count) == (0, 0, 0)


def test_a_truncated_posts_xml_names_the_file_and_line(tmp_path):
    path = write_posts(tmp_path / "coffee.stackexchange.com", qa_rows(4) + [question_row(50, "Low?")])
    text = path.read_text()
    path.write_text(text[: text.index('<row Id="5"') + 40])  # cut inside a row, no </posts>

    run = import_now("stackexchange", path.parent)

    assert_failed_with_nothing_left(run, str(path), "line ", "malformed XML")


def test_a_broken_json_line_names_the_file_and_line_and_keeps_none_of_the_rows_before_it(tmp_path):
    path = write_jsonl(tmp_path / "chats.jsonl", lima_rows(2))
    with open(path, "a") as out:
        out.write('{"conversations": ["unfinished\n')
        out.write(json.dumps(lima_rows(1)[0]) + "\n")

    run = import_now("jsonl", path)

    assert_failed_with_nothing_left(run, "chats.jsonl", "line 3", "invalid JSON")
    assert Example.objects.count() == 0


def test_a_bad_zstd_frame_names_the_file_and_byte_offset(tmp_path):
    lines = "".join(
        json.dumps({"id": f"s{n}", "title": f"[WP] Prompt {n} " + "x" * 200, "selftext": "", "subreddit": "WritingPrompts",
                    "score": 40, "author": "a", "created_utc": n}) + "\n"
        for n in range(300)
    ).encode()
    frame = bytearray(zstandard.ZstdCompressor(level=3, write_checksum=True).compress(lines))
    for offset in range(len(frame) // 2, len(frame) // 2 + 16):  # damage the middle of the frame
        frame[offset] ^= 0xFF
    path = tmp_path / "RS_2024-01.zst"
    path.write_bytes(bytes(frame))

    run = import_now("reddit", path)

    assert_failed_with_nothing_left(run, "RS_2024-01.zst", "byte offset", "zstd")


def test_a_wikihow_csv_without_the_expected_columns_names_the_file_and_line(tmp_path):
    path = tmp_path / "wikihow.csv"
    path.write_text("name,body\nHow to Boil an Egg,Put it in water.\n")

    run = import_now("wikihow", path)

    assert_failed_with_nothing_left(run, "wikihow.csv", "line 1", "title,heading,paragraph")


def test_a_broken_natural_instructions_task_names_the_file(tmp_path):
    path = tmp_path / "task999_broken.json"
    path.write_text('{"Definition": "Write a title.", "Instances": [{"input": "x", ')

    run = import_now("natural_instructions", path)

    assert_failed_with_nothing_left(run, "task999_broken.json", "line 1")


def test_a_failure_while_saving_rolls_back_every_example_of_the_run(tmp_path, monkeypatch):
    folder = tmp_path / "coffee.stackexchange.com"
    write_posts(folder, qa_rows(2))
    import_now("stackexchange", folder)
    write_posts(folder, [row.replace("Water just off", "Water well off") for row in qa_rows(2)] + qa_rows(3, first_id=11))
    monkeypatch.setattr(ingest, "SAVE_BATCH", 2)
    batches = []
    real_create = ingest._create_examples

    def create_then_break(run, records):
        if sum(batches) >= 2:  # two new examples are in the database (uncommitted): now break
            raise RuntimeError("disk full")
        batches.append(len(records))
        return real_create(run, records)

    monkeypatch.setattr(ingest, "_create_examples", create_then_break)

    run = import_now("stackexchange", folder)

    assert_failed_with_nothing_left(run, "RuntimeError: disk full", str(folder))
    assert sum(batches) == 2  # written, then rolled back with the rest
    assert Example.objects.count() == 2
    assert all("Water just off" in example.conversation[1] for example in Example.objects.all())  # updates undone


@pytest.mark.django_db(transaction=True)
def test_rejected_records_written_before_the_bad_line_are_not_kept_either(tmp_path):
    # Committed runs write rejections as they come (on PostgreSQL, one COPY stream): a failure drops them all.
    rejected_row = {"messages": [{"role": "assistant", "content": "An answer to nothing."}]}
    good_rows = [{"messages": [{"role": "user", "content": f"Hi {n}?"}, {"role": "assistant", "content": "Hello."}]}
                 for n in range(2)]
    path = write_jsonl(tmp_path / "chats.jsonl", [rejected_row] * 1500 + good_rows)
    with open(path, "a") as out:
        out.write("{not json}\n")

    run = import_now("jsonl", path)

    assert_failed_with_nothing_left(run, "chats.jsonl", "line 1503")
    assert run.read_count == 1502 and run.rejected_by_reason == {"roles_not_alternating": 1500}
