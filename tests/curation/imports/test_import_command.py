"""`manage.py import_source`: runs in its own process, ends with one JSON line, fails with a non-zero exit."""
import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from curation.models import Example, ImportRun
from tests.conftest import REPO, _database_url
from tests.curation.imports.builders import answer_row, qa_rows, question_row, write_jsonl, write_posts


def run_command(*args):
    out = StringIO()
    call_command("import_source", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_last_line_is_one_json_object_of_counts(tmp_path):
    rows = qa_rows(2) + [question_row(20, "Why?"), answer_row(21, 20, score=1)]
    path = write_posts(tmp_path / "coffee.stackexchange.com", rows)

    output = run_command("stackexchange", str(path.parent), "--json", "--seed", "3")

    summary = json.loads(output.strip().splitlines()[-1])
    run = ImportRun.objects.get()
    assert summary["import_run"] == run.pk and summary["status"] == "succeeded"
    assert (summary["read"], summary["accepted"], summary["created"], summary["updated"]) == (3, 2, 2, 0)
    assert summary["rejected"] == {"answer_score_below_10": 1}
    assert run.options["seed"] == 3 and Example.objects.count() == 2


@pytest.mark.django_db
def test_name_target_tau_and_parser_options_reach_the_run(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"instruction": f"Task {n}", "output": f"Done {n}"} for n in range(6)])

    output = run_command("jsonl", str(path), "--name", "Alpaca sample", "--target", "2", "--tau", "1.5",
                         "--option", "split=train", "--json")

    run = ImportRun.objects.get()
    assert run.source.name == "Alpaca sample"
    assert run.options == {"split": "train", "seed": 0, "target": 2, "tau": 1.5}
    assert json.loads(output.splitlines()[-1])["rejected"] == {"not_sampled": 4}
    assert set(Example.objects.values_list("split", flat=True)) == {"train"}


@pytest.mark.django_db
def test_a_failed_run_raises_after_printing_its_json(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n{oops\n')
    out = StringIO()

    with pytest.raises(CommandError, match=r"broken\.jsonl, line 2"):
        call_command("import_source", "jsonl", str(path), "--json", stdout=out)

    summary = json.loads(out.getvalue().splitlines()[-1])
    assert summary["status"] == "failed" and "line 2" in summary["error"]
    assert Example.objects.count() == 0


@pytest.mark.django_db
def test_async_queues_the_run_for_the_worker_and_prints_its_id(tmp_path, django_capture_on_commit_callbacks):
    path = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Hi", "output": "Hello"}])

    with django_capture_on_commit_callbacks() as callbacks:
        output = run_command("jsonl", str(path), "--async")

    run = ImportRun.objects.get()
    assert f"Import run #{run.pk} queued" in output and run.status == "queued"
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_a_missing_file_or_unknown_option_is_a_usage_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run_command("jsonl", str(tmp_path / "missing.jsonl"))
    with pytest.raises(CommandError, match="Unknown option"):
        run_command("jsonl", str(write_jsonl(tmp_path / "a.jsonl", [])), "--option", "colour=blue")
    assert ImportRun.objects.count() == 0


def manage(*args, tmp_path):
    with connection.cursor():  # the test database's settings, for the child process
        env = dict(os.environ, DATABASE_URL=_database_url(connection.settings_dict))
    return subprocess.run([sys.executable, "manage.py", "import_source", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.django_db(transaction=True)
def test_the_command_works_without_a_worker_and_exits_non_zero_on_failure(tmp_path, shared_data):
    ok = manage("stackexchange", str(shared_data / "stackexchange/coffee_2015"), "--json", tmp_path=tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"instruction": "a", "output": "b"}, {"instruction": ')
    failed = manage("jsonl", str(broken), "--json", tmp_path=tmp_path)

    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["read"] == 225 and summary["created"] == summary["accepted"] > 0
    assert failed.returncode != 0
    assert json.loads(failed.stdout.strip().splitlines()[-1])["status"] == "failed"
    assert "broken.json, line 1" in failed.stderr
    assert Example.objects.filter(import_run_id=summary["import_run"]).count() == summary["created"]
