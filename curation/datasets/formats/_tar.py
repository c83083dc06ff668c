"""A folder -> an uncompressed tar, streamed: how a folder export (hf) travels over HTTP."""
from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path


def iter_tar_chunks(folder, block=1024 * 1024) -> Iterator[bytes]:
    """An uncompressed tar of `folder` (entries sorted, owners and times zeroed), streamed a block at a time.

    Written by hand rather than with tarfile, which would hold each member whole before handing it on.
    """
    folder = Path(folder)
    written = 0
    paths = sorted(path for path in folder.rglob("*") if path.is_file())
    for path in paths:
        info = tarfile.TarInfo(str(Path(folder.name) / path.relative_to(folder)))
        info.size = path.stat().st_size
        info.mode, info.mtime = 0o644, 0
        header = info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")
        yield header
        written += len(header)
        with open(path, "rb") as stream:
            while chunk := stream.read(block):
                written += len(chunk)
                yield chunk
        padding = -info.size % tarfile.BLOCKSIZE
        if padding:
            written += padding
            yield b"\0" * padding
    end = 2 * tarfile.BLOCKSIZE
    end += -(written + end) % tarfile.RECORDSIZE
    yield b"\0" * end
