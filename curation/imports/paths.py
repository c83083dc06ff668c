"""Where a server path given to the import form or API may point: under MEDIA_ROOT/imports (uploads) or one of
IMPORT_ROOTS, checked on the path with every link followed, and on every link inside a folder. A path outside is
refused with a message naming it and the setting, before anything is opened (so neither its content nor whether
it exists is told). The import_source command is the operator's own shell and is not confined."""
from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings


class PathRefused(ValueError):
    pass


def import_roots() -> list[Path]:
    roots = [Path(settings.MEDIA_ROOT) / "imports", *(Path(root) for root in settings.IMPORT_ROOTS)]
    return [root.resolve() for root in roots]


def _inside(path: Path, roots) -> bool:
    return any(path == root or root in path.parents for root in roots)


def confine(text: str) -> Path:
    """The resolved path `text` names, if it lies under an import root; else PathRefused."""
    roots = import_roots()
    shown = text.replace("\x00", "\\0")
    allowed = ", ".join(str(root) for root in settings.IMPORT_ROOTS) or "empty: uploads only"
    refused = f"{shown}: server paths must lie under IMPORT_ROOTS (now {allowed})"
    if "\x00" in text or not text.strip():
        raise PathRefused(f"{refused}; this is no path.")
    raw = Path(text.strip())
    if not raw.is_absolute():
        raise PathRefused(f"{refused}; give an absolute path.")
    if ".." in raw.parts:
        raise PathRefused(f"{refused}; '..' is not allowed.")
    resolved = raw.resolve()
    if not _inside(resolved, roots):
        raise PathRefused(f"{refused}.")
    if resolved.is_dir():
        for folder, dirs, files in os.walk(resolved):
            for name in dirs + files:
                entry = Path(folder) / name
                if entry.is_symlink() and not _inside(entry.resolve(), roots):
                    raise PathRefused(f"{refused}; {entry} links outside them.")
    return resolved
