"""`backup DIR` and `restore DIR`: a round trip gives back every row and every file; a partial, damaged or
mismatching backup is refused before anything changes."""
import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from curation.datasets.versions import freeze_version
from curation.models import DatasetVersion, Example
from curation.services import create_example

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TRAINING_OUTPUT_ROOT = ""
    files = {"uploads/2026/chats.jsonl": b'{"a": 1}\n', "exports/v1/train.jsonl": b"x" * 70_000,
             "training/run-1/checkpoints/epoch-1/adapter.safetensors": bytes(range(256)) * 40}
    for name, content in files.items():
        path = settings.MEDIA_ROOT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return settings.MEDIA_ROOT, files


@pytest.fixture
def studio(alice, media):
    for n in range(5):
        create_example(turns=[f"Prompt {n}?", f"Answer {n}."], split="train", status="approved", author=alice)
    freeze_version("v1")
    return snapshot()


def snapshot():
    return {
        "examples": sorted(Example.objects.values_list("pk", "status", "split", "content_hash", "version")),
        "versions": sorted(DatasetVersion.objects.values_list("pk", "name", "content_hash")),
        "users": sorted(get_user_model().objects.values_list("username", "password")),
    }


def tree(root: Path):
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def wipe(root):
    call_command("flush", interactive=False, verbosity=0)
    for path in sorted(root.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (root / "stray.txt").write_text("made after the backup")


def test_a_round_trip_gives_back_every_row_and_file(studio, media, tmp_path):
    root, files = media
    backup = tmp_path / "backup"

    # given a backup
    call_command("backup", str(backup))
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["format"] == 1 and manifest["trees"]["media"]["files"] == 3
    assert set(manifest["files"]) == {"media.tar", manifest["database"]["file"]}
    assert all(len(entry["sha256"]) == 64 and entry["bytes"] > 0 for entry in manifest["files"].values())

    # when everything is wiped and the backup restored
    wipe(root)
    assert Example.objects.count() == 0
    call_command("restore", str(backup), interactive=False)

    # then
    assert snapshot() == studio
    assert tree(root) == {name: content for name, content in files.items()}
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_it_backs_up_into_a_new_or_empty_folder_only(studio, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(CommandError, match="not an empty folder"):
        call_command("backup", str(tmp_path / "full"))
    (tmp_path / "empty").mkdir()
    call_command("backup", str(tmp_path / "empty"))
    assert (tmp_path / "empty" / "manifest.json").is_file()


def _damaged(tmp_path, how):
    backup = tmp_path / "backup"
    call_command("backup", str(backup))
    manifest = json.loads((backup / "manifest.json").read_text())
    dump = backup / manifest["database"]["file"]
    if how == "partial":
        (backup / "media.tar").unlink()
    elif how == "truncated":
        dump.write_bytes(dump.read_bytes()[:-100])
    elif how == "changed":
        data = bytearray(dump.read_bytes())
        data[len(data) // 2] ^= 0xFF
        dump.write_bytes(bytes(data))
    elif how == "no manifest":
        (backup / "manifest.json").unlink()
    elif how == "other engine":
        manifest["database"]["engine"] = "oracle"
    elif how == "newer studio":
        manifest["migrations"].append("curation.9999_from_the_future")
    if how in ("other engine", "newer studio"):
        (backup / "manifest.json").write_text(json.dumps(manifest))
    return backup


@pytest.mark.parametrize("how, message", [
    ("partial", "media.tar: missing: the backup is partial"),
    ("truncated", "the file was truncated or changed"),
    ("changed", "sha256 differs from the manifest"),
    ("no manifest", "no manifest.json: not a backup, or one that did not finish"),
    ("other engine", "a oracle backup cannot be restored into this"),
    ("newer studio", "made by a newer version of the studio"),
])
def test_a_partial_or_mismatching_backup_is_refused_and_nothing_changes(studio, media, tmp_path, how, message):
    root, _ = media
    backup = _damaged(tmp_path, how)
    create_example(turns=["Written after the backup?", "Yes."], split="train", status="approved")
    (root / "after.txt").write_text("after")
    before, files_before = snapshot(), tree(root)

    with pytest.raises(CommandError, match=message):
        call_command("restore", str(backup), interactive=False)

    assert snapshot() == before and tree(root) == files_before
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


def test_a_dump_the_database_cannot_read_leaves_the_database_and_the_files_as_they_were(studio, media, tmp_path):
    root, _ = media
    backup = tmp_path / "backup"
    call_command("backup", str(backup))
    # A dump damaged in a way the manifest does not catch (rewritten to match): the database step itself fails.
    manifest = json.loads((backup / "manifest.json").read_text())
    dump = backup / manifest["database"]["file"]
    dump.write_bytes(dump.read_bytes()[:4096] + b"\0" * 4096)
    from core.backup import sha256_of

    manifest["files"][dump.name] = {"bytes": dump.stat().st_size, "sha256": sha256_of(dump)}
    (backup / "manifest.json").write_text(json.dumps(manifest))
    create_example(turns=["Written after the backup?", "Yes."], split="train", status="approved")
    before, files_before = snapshot(), tree(root)

    with pytest.raises(CommandError, match="the database was not changed|pg_restore failed"):
        call_command("restore", str(backup), interactive=False)

    assert snapshot() == before and tree(root) == files_before
    assert not [p for p in root.iterdir() if p.name.startswith(".")]
