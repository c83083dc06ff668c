"""A run's error and the log never quote the file: read as any kind, /proc/self/environ (the process environment,
DATABASE_URL included) and /etc/passwd fail with the file and place named and nothing of what they hold. (The
form and API refuse these paths outright; the import_source command, the operator's own shell, may read them.)"""
import logging
import os
from pathlib import Path

import pytest

from curation.imports.ingest import start_import
from curation.models import ImportRun

pytestmark = pytest.mark.django_db

ENVIRON = Path("/proc/self/environ")


def environment_entries():
    raw = ENVIRON.read_bytes().split(b"\0")
    return [entry.decode("utf-8", "replace") for entry in raw if b"=" in entry and len(entry) > 8]


@pytest.mark.parametrize("kind", ["wikihow", "jsonl", "reddit", "natural_instructions", "stackexchange"])
def test_the_environment_read_as_a_source_is_never_quoted(kind, caplog):
    entries = environment_entries()
    assert entries, "no environment to look for"
    caplog.set_level(logging.DEBUG)
    run = start_import(kind, ENVIRON, name="env.stackexchange.com", run_async=False)
    assert run.status == ImportRun.Status.FAILED
    assert str(ENVIRON) in run.error
    logged = "\n".join(record.getMessage() + str(record.exc_info or "") for record in caplog.records)
    for entry in entries:
        assert entry not in run.error
        assert entry not in logged
    if os.environ.get("DATABASE_URL"):
        assert os.environ["DATABASE_URL"] not in run.error + logged


@pytest.mark.parametrize("kind", ["wikihow", "jsonl", "natural_instructions"])
def test_etc_passwd_is_never_quoted(kind):
    run = start_import(kind, Path("/etc/passwd"), run_async=False)
    assert run.status == ImportRun.Status.FAILED
    assert "root:" not in run.error and "/bin/" not in run.error, run.error
