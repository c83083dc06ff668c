"""Backups of the studio: the database in its own format plus the files under MEDIA_ROOT, with a manifest.

A backup folder holds `database.pgdump` (pg_dump's custom format) or `database.sqlite3` (SQLite's online
backup API, consistent while the studio writes), `media.tar` (MEDIA_ROOT: uploads, exports, training runs and
their checkpoints), `training.tar` when TRAINING_OUTPUT_ROOT is outside MEDIA_ROOT, and `manifest.json` (sizes,
sha256, versions, applied migrations), written last. It is assembled in a hidden sibling folder and renamed into
place when complete, so a folder with a manifest is a whole backup.

A restore checks everything before it changes anything: the manifest, every file's size and sha256, the database
engine, the migrations. Then it unpacks the files beside their destination, restores the database in one
transaction (pg_restore --single-transaction; SQLite's backup API copies the whole file or nothing), and only
then swaps the files in. A failure before the swap leaves the database and the files as they were.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
from pathlib import Path

import django
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

FORMAT = 1
MANIFEST = "manifest.json"
STAGING = (".restore-", ".replaced-")  # folders a restore makes inside a root; never archived


class BackupError(Exception):
    """A backup or restore refused, with what to do about it."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _engine() -> str:
    return connection.vendor  # "postgresql" or "sqlite"


def _roots() -> dict[str, Path]:
    """The trees a backup holds: MEDIA_ROOT, and TRAINING_OUTPUT_ROOT when it lives elsewhere."""
    roots = {"media": Path(settings.MEDIA_ROOT).resolve()}
    if settings.TRAINING_OUTPUT_ROOT:
        training = Path(settings.TRAINING_OUTPUT_ROOT).resolve()
        if not training.is_relative_to(roots["media"]):
            roots["training"] = training
    return roots


# --- PostgreSQL's own tools --------------------------------------------------------------------------------


def _pg_env() -> dict:
    """libpq's variables, so that no password appears in a command line (and so in `ps`)."""
    db = connection.settings_dict
    env = dict(os.environ, PGDATABASE=db["NAME"], PGHOST=db.get("HOST") or "", PGPORT=str(db.get("PORT") or ""),
               PGUSER=db.get("USER") or "", PGCONNECT_TIMEOUT="10")
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return {key: value for key, value in env.items() if value != "" or not key.startswith("PG")}


def _server_major() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        return int(cursor.fetchone()[0]) // 10000


def _pg_tool(name: str) -> tuple[str, str]:
    """(path, version) of pg_dump or pg_restore, of at least the server's major version: the server's own
    binaries (/usr/lib/postgresql/<major>/bin) first, then PATH."""
    major = _server_major()
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin/{name}"), shutil.which(name)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            version = subprocess.run([str(candidate), "--version"], capture_output=True, text=True).stdout.strip()
            found = re.search(r"(\d+)(?:\.\d+)?", version)
            if found and int(found.group(1)) >= major:
                return str(candidate), version
    raise BackupError(f"{name} of PostgreSQL {major} or newer was not found (install postgresql-client-{major}).")


def _run_pg(command: list[str], what: str):
    done = subprocess.run(command, env=_pg_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


# --- Backup ------------------------------------------------------------------------------------------------


def _dump_database(folder: Path) -> dict:
    if _engine() == "postgresql":
        tool, version = _pg_tool("pg_dump")
        target = folder / "database.pgdump"
        _run_pg([tool, "--format=custom", "--no-owner", "--no-privileges", "--file", str(target)], "pg_dump")
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            server = cursor.fetchone()[0]
        return {"engine": "postgresql", "file": target.name, "tool": version, "server_version": server}
    if _engine() == "sqlite":
        target = folder / "database.sqlite3"
        source = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        return {"engine": "sqlite", "file": target.name, "tool": f"sqlite3 backup API {sqlite3.sqlite_version}",
                "server_version": sqlite3.sqlite_version}
    raise BackupError(f"backups of a {_engine()} database are not supported (PostgreSQL or SQLite).")


def _archive(root: Path, target: Path) -> dict:
    files = size = 0
    with tarfile.open(target, "w") as tar:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if relative.parts[0].startswith(STAGING):
                    continue
                tar.add(path, arcname=str(relative), recursive=False)
                if path.is_file() and not path.is_symlink():
                    files += 1
                    size += path.stat().st_size
    return {"files": files, "bytes": size}


def _applied_migrations() -> list[str]:
    return sorted(f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations())


def create_backup(directory, log=lambda line: None) -> dict:
    """Write a whole backup into `directory` (absent or empty); return its manifest."""
    directory = Path(directory).resolve()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory}: already exists and is not an empty folder; back up into a new one.")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.parent / f".{directory.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        log("dumping the database")
        database = _dump_database(staging)
        trees = {}
        for name, root in _roots().items():
            log(f"archiving {name} ({root})")
            trees[name] = {"file": f"{name}.tar", "root": str(root), **_archive(root, staging / f"{name}.tar")}
        files = {path.name: {"bytes": path.stat().st_size, "sha256": sha256_of(path)}
                 for path in sorted(staging.iterdir())}
        manifest = {
            "format": FORMAT, "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "versions": {"lima_studio": _studio_version(), "django": django.get_version()},
            "database": database, "migrations": _applied_migrations(), "trees": trees, "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if directory.exists():
            directory.rmdir()
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _studio_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lima-studio")
    except PackageNotFoundError:
        return "unknown"


# --- Restore -----------------------------------------------------------------------------------------------


def check_backup(directory) -> dict:
    """The manifest of a whole, intact backup this studio can restore; BackupError saying why not otherwise."""
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise BackupError(f"{directory}: no such folder.")
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{directory}: no {MANIFEST}: not a backup, or one that did not finish.") from None
    except ValueError as error:
        raise BackupError(f"{directory / MANIFEST}: not valid JSON ({error}): the backup is damaged.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{directory / MANIFEST}: format {manifest.get('format') if isinstance(manifest, dict) else '?'}"
                          f" is not this studio's backup format {FORMAT}.")
    for name, expected in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise BackupError(f"{path}: missing: the backup is partial; nothing was restored.")
        if path.stat().st_size != expected["bytes"]:
            raise BackupError(f"{path}: {path.stat().st_size} bytes, the manifest says {expected['bytes']}: "
                              "the file was truncated or changed; nothing was restored.")
        if sha256_of(path) != expected["sha256"]:
            raise BackupError(f"{path}: its sha256 differs from the manifest's: the file was changed; nothing was restored.")
    engine = manifest["database"]["engine"]
    if engine != _engine():
        raise BackupError(f"{directory}: a {engine} backup cannot be restored into this {_engine()} database "
                          "(see DATABASE_URL); nothing was restored.")
    known = {f"{app}.{name}" for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations}
    unknown = sorted(set(manifest["migrations"]) - known)
    if unknown:
        raise BackupError(f"{directory}: made by a newer version of the studio (migrations unknown here: "
                          f"{', '.join(unknown[:5])}{'…' if len(unknown) > 5 else ''}); upgrade first. Nothing was restored.")
    for name in manifest["trees"]:
        if name not in _roots():
            raise BackupError(f"{directory}: holds a separate {name} tree but TRAINING_OUTPUT_ROOT is not set apart "
                              "from MEDIA_ROOT here; set it as on the backed-up host. Nothing was restored.")
    return manifest


def _restore_database(directory: Path, manifest: dict):
    dump = directory / manifest["database"]["file"]
    connection.close()  # our own connection must not hold locks the restore waits for
    if _engine() == "postgresql":
        tool, _ = _pg_tool("pg_restore")
        _run_pg([tool, "--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--no-owner",
                 "--no-privileges", "--dbname", connection.settings_dict["NAME"], str(dump)], "pg_restore")
    else:
        source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
        target = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
        try:
            source.execute("PRAGMA quick_check").fetchall()  # a damaged file fails here, before the copy
            source.backup(target)
        except sqlite3.Error as error:
            raise BackupError(f"{dump}: SQLite could not restore it ({error}); the database was not changed.") from None
        finally:
            target.close()
            source.close()


def _unpack(directory: Path, manifest: dict) -> dict[str, Path]:
    """Each tree unpacked into a hidden folder inside its root (the same filesystem, even when the root is a
    mount point), so the swap is a few renames."""
    staged = {}
    for name, tree in manifest["trees"].items():
        root = _roots()[name]
        root.mkdir(parents=True, exist_ok=True)
        target = root / f"{STAGING[0]}{os.getpid()}"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        staged[name] = target
        with tarfile.open(directory / tree["file"]) as tar:
            tar.extractall(target, filter="data")  # no absolute paths, no "..", no links out of the tree
    return staged


def _swap_in(staged: dict[str, Path]):
    for name, source in staged.items():
        root = _roots()[name]
        replaced = root / f"{STAGING[1]}{os.getpid()}"
        replaced.mkdir(exist_ok=True)
        for entry in list(root.iterdir()):
            if not entry.name.startswith(STAGING):
                entry.rename(replaced / entry.name)
        for entry in list(source.iterdir()):
            entry.rename(root / entry.name)
        source.rmdir()
        shutil.rmtree(replaced, ignore_errors=True)


def restore_backup(directory, log=lambda line: None) -> dict:
    """Replace the database and the files with the backup in `directory`, or change nothing."""
    directory = Path(directory).resolve()
    manifest = check_backup(directory)
    log("the backup is whole and intact")
    staged = {}
    try:
        log("unpacking the files")
        staged = _unpack(directory, manifest)
        log("restoring the database")
        _restore_database(directory, manifest)
    except BaseException:
        for folder in staged.values():
            shutil.rmtree(folder, ignore_errors=True)
        raise
    log("swapping the files in")
    _swap_in(staged)
    for name, tree in manifest["trees"].items():
        if tree["root"] != str(_roots()[name]):
            log(f"note: {name} was at {tree['root']} on the backed-up host and is at {_roots()[name]} here; "
                "paths the database stores (checkpoints, uploads) name the old place.")
    return manifest
