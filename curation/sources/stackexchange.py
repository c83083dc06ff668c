"""Stack Exchange data dumps -> question / top-answer records, with LIMA's rules applied.

``iter_records(path, **options)`` reads a site's ``Posts.xml``, a folder holding one (or several
site folders / archives), or a site's ``.7z`` archive as published, and yields one ``Record`` per
question: ``turns = [prompt, top answer]`` in Markdown, accepted or carrying a reject reason.

Constant memory, whatever the size of the dump (stackoverflow: ~24M questions, ~100 GB):

1. Pass 1 parses every row and keeps only compact arrays: (question id, answer id, score, owner)
   of the answers that pass the cheap score rule, plus bitsets of question ids, answered
   questions and accepted answers. From them it picks each question's top answer (highest
   score, then the accepted one, then the oldest) and makes bitsets of the rows needed.
   Questions whose top answer fails the score rule (or that have none) are yielded from the
   bitsets, rejected, with no text: their rows are never read again, their HTML never cleaned.
2. Pass 2 reads the file again for the needed rows only. A published dump holds one row per
   line, so lines that are not needed are skipped unparsed (any other layout falls back to a
   full parse). A needed question or answer waits in a temporary SQLite file until its other
   half arrives (the dump's order does not matter), then the pair's HTML is cleaned and LIMA's
   text rules run.

A big plain Posts.xml is read by several processes (forked, one per CPU): pass 1 parses it in
parts, each cut at the start of a row's line and made a document of its own (the file's head,
the rows, ``</posts>``), and pass 2 gives a child part of the pairs to clean, the two streams of
records merged back in file order. The records, their order, the counts and the errors are those
of one process; a file that cannot be cut cleanly (or a part that fails) is read in one piece.

A malformed file (truncated XML, a non-integer id or score) raises ``SourceFormatError`` naming
the file and line, during pass 1, before any record is yielded.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import json
import os
import pickle
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from lxml import etree

from core.processes import ForkedChild
from curation.sources import limits
from curation.sources.cleaning import clean_markdown, converted_markdown, html_to_markdown, policy_named
from curation.sources.filters import (
    MAX_ANSWER_CHARS,
    MIN_ANSWER_CHARS,
    MIN_ANSWER_SCORE,
    judge_answer,
    title_not_self_contained,
)
from curation.sources.plugins import SourceKind, register
from curation.sources.records import Record, Rule, SourceFormatError, warn
from curation.sources.stem_sites import is_meta_site, is_niche_site, niche_sites

QUESTION, ANSWER = "1", "2"
# LIMA.md: "The prompt is the question's title for some examples and its body for others
# (random)"; half and half unless told otherwise.
TITLE_PROMPT_SHARE = 0.5
NO_ANSWER = "no_answer"
EMPTY_PROMPT = "empty_prompt"
META_SITE = "meta_site"
NICHE_SITE = "niche_site"

# Every reason a record of this parser can carry, cheapest first, and the option that loosens it.
RULES = (
    Rule(META_SITE, "The site is a meta site, about the Stack Exchange sites themselves.",
         "exclude_meta_sites", lambda value: False, "meta sites read like any other"),
    Rule(NICHE_SITE, "The site is on the niche list of stem_sites.toml (LIMA dropped 5 niche exchanges).",
         "excluded_sites", lambda value: [], "no site left out"),
    Rule(NO_ANSWER, "The question has no answer."),
    Rule("answer_score_below_", "The top answer scores below the minimum (LIMA: 10).",
         "min_score", lambda value: max(0, int(value) // 2), "answers scoring half as much"),
    Rule(EMPTY_PROMPT, "The question has neither a title nor a body."),
    Rule("empty_answer", "The top answer is empty once cleaned."),
    Rule("answer_too_short", "The cleaned answer is shorter than the minimum (LIMA: 1,200 characters).",
         "min_chars", lambda value: int(value) // 2, "answers half as long"),
    Rule("answer_too_long", "The cleaned answer is longer than the maximum (LIMA: 4,096 characters).",
         "max_chars", lambda value: int(value) * 2, "answers twice as long"),
    Rule("first_person", 'The answer speaks in the first person ("I", "my"; "je", "mon" in French).',
         "first_person", lambda value: False, "first-person answers kept"),
    Rule("refers_to_other_answers", 'The answer refers to other answers, the site or the asker ("as mentioned").',
         "references", lambda value: False, "answers that refer to others kept"),
)

# Sites whose domain is not <name>.stackexchange.com.
_OWN_DOMAINS = {
    "stackoverflow": "stackoverflow.com",
    "superuser": "superuser.com",
    "serverfault": "serverfault.com",
    "askubuntu": "askubuntu.com",
    "mathoverflow": "mathoverflow.net",
    "stackapps": "stackapps.com",
}
# Stack Exchange's licence history, for dumps without ContentLicense (before 2018).
# A domain of the network: <name>[.meta].stackexchange.com, or one of the sites with a domain of their own.
_SITE_DOMAIN = re.compile(
    r"([a-z0-9-]+\.)?(meta\.)?stackexchange\.com|(meta\.)?(" + "|".join(re.escape(d) for d in _OWN_DOMAINS.values()) + ")"
)
_LICENCE_SINCE = (("2018-05-02", "CC BY-SA 4.0"), ("2011-04-08", "CC BY-SA 3.0"), ("", "CC BY-SA 2.5"))
_MAX_ID = 2**31 - 1  # every Stack Exchange id fits; a bigger one is a broken file


# --- Where the Posts.xml files are -----------------------------------------------------------

@dataclass(frozen=True)
class PostsSource:
    """One site's Posts.xml: a file on disk, or a member of a .7z archive."""

    site: str | None  # None: the path's name does not tell (find_posts_sources refuses it unless asked not to)
    path: Path  # the XML file, or the archive
    member: str | None = None  # the member inside the archive
    users_member: str | None = None  # Users.xml beside it (same archive), if any
    users_path: Path | None = None  # Users.xml beside it on disk / in a sibling archive

    @property
    def label(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    def open(self):
        return _open_xml(self.path, self.member)

    @property
    def has_users(self) -> bool:
        return self.users_path is not None or self.users_member is not None

    @property
    def users_label(self) -> str:
        archive_or_file = self.users_path or self.path
        return f"{archive_or_file}:{self.users_member}" if self.users_member else str(archive_or_file)

    def open_users(self):
        return _open_xml(self.users_path or self.path, self.users_member)


def site_from_name(name: str) -> str | None:
    """The site domain a dump's file or folder name stands for, or None when it says nothing of a site.

    "coffee.stackexchange.com.7z" -> "coffee.stackexchange.com"; "stackoverflow.com-Posts.7z" ->
    "stackoverflow.com"; "coffee_2015" -> "coffee.stackexchange.com"; "french_meta_2021" ->
    "french.meta.stackexchange.com"; "downloads", "Posts.xml" or an upload folder's hash -> None (the site
    must then be given: it names the source and every example's domain)."""
    from curation.sources.stem_sites import load_site_groups

    name = name.lower().removesuffix(".7z")
    name = re.sub(r"-(posts|users)$", "", name)
    if "." in name:
        return name if _SITE_DOMAIN.fullmatch(name) else None
    match = re.fullmatch(r"([a-z0-9]+)(?:[_-](meta))?(?:[_-]\d{4}(?:[_-]?\d{2}){0,2})?", name)
    if not match:
        return None
    base, meta = match.groups()
    dated = match.group(0) != base
    if not (dated or meta or base in _OWN_DOMAINS or base in load_site_groups()):
        return None
    if base in _OWN_DOMAINS:
        return f"meta.{_OWN_DOMAINS[base]}" if meta else _OWN_DOMAINS[base]
    return f"{base}.meta.stackexchange.com" if meta else f"{base}.stackexchange.com"


def _archive_members(archive: Path) -> list[str]:
    import py7zr  # here: most imports read a plain Posts.xml, and py7zr takes ~50 ms to load

    try:
        with py7zr.SevenZipFile(archive, "r") as handle:
            return handle.getnames()
    except (py7zr.exceptions.Bad7zFile, py7zr.exceptions.ArchiveError, EOFError, OSError) as exc:
        raise SourceFormatError(archive, "", f"not a readable .7z archive: {exc}") from exc


def _member_named(members: list[str], filename: str) -> str | None:
    for member in members:
        if member.replace("\\", "/").rsplit("/", 1)[-1].lower() == filename.lower():
            return member
    return None


def _archive_source(archive: Path, site: str | None) -> PostsSource:
    members = _archive_members(archive)
    posts = _member_named(members, "Posts.xml")
    if posts is None:
        raise SourceFormatError(archive, "", "no Posts.xml in this archive")
    users_member = _member_named(members, "Users.xml")
    users_path = None
    if users_member is None and archive.name.lower().endswith("-posts.7z"):
        sibling = archive.with_name(archive.name[: -len("-posts.7z")] + "-Users.7z")
        if sibling.exists():
            users_path = sibling
            users_member = _member_named(_archive_members(sibling), "Users.xml")
    return PostsSource(
        site=site or site_from_name(archive.name),
        path=archive,
        member=posts,
        users_member=users_member,
        users_path=users_path,
    )


def _xml_source(posts: Path, site: str | None) -> PostsSource:
    users = posts.with_name("Users.xml")
    return PostsSource(
        site=site or site_from_name(posts.resolve().parent.name),
        path=posts,
        users_path=users if users.exists() else None,
    )


def find_posts_sources(path: str | Path, site: str | None = None, *, require_site: bool = True) -> list[PostsSource]:
    """The Posts.xml files under ``path``: a Posts.xml, a .7z archive, a site folder, or a folder
    of site folders / archives (sorted by name). ``site`` names the site of a single source.

    A source whose site neither ``site`` nor its file or folder name tells is refused (SourceFormatError),
    unless ``require_site`` is False (its ``site`` is then None)."""
    sources = _find_posts_sources(Path(path), site)
    unknown = next((source for source in sources if source.site is None), None)
    if require_site and unknown is not None:
        raise SourceFormatError(
            unknown.label, "",
            "cannot tell which Stack Exchange site this is: name the archive or its folder after the site "
            "(coffee.stackexchange.com.7z, coffee.stackexchange.com/Posts.xml) or give the site (the source name)",
        )
    return sources


def _find_posts_sources(path: Path, site: str | None) -> list[PostsSource]:
    if not path.exists():
        raise SourceFormatError(path, "", "no such file or folder")
    if path.is_file():
        if path.suffix.lower() == ".7z":
            return [_archive_source(path, site)]
        return [_xml_source(path, site)]
    posts = next((p for p in path.iterdir() if p.name.lower() == "posts.xml"), None)
    if posts is not None:
        return [_xml_source(posts, site)]
    sources = []
    for child in sorted(path.iterdir()):
        if child.is_dir() and any(p.name.lower() == "posts.xml" for p in child.iterdir()):
            sources.extend(_find_posts_sources(child, None))
        elif child.suffix.lower() == ".7z" and not child.name.lower().endswith("-users.7z"):
            sources.append(_archive_source(child, None))
    if not sources:
        raise SourceFormatError(path, "", "no Posts.xml or .7z archive found")
    if site is not None:
        if len(sources) > 1:
            raise ValueError(f"site={site!r} given, but {path} holds {len(sources)} sites")
        sources = [replace(sources[0], site=site)]
    return sources


# --- Reading rows ----------------------------------------------------------------------------

# Decompresses one member of a .7z archive to standard output, in 1 MB blocks (py7zr's default
# is as much as free memory allows, up to 128 MB, handed over whole; it has no parameter for it).
_EXTRACT_MEMBER = """
import sys
import py7zr
import py7zr.py7zr

py7zr.py7zr.get_memory_limit = lambda: 1 << 20
out = sys.stdout.buffer


class Writer(py7zr.Py7zIO):
    def write(self, data):
        out.write(data)
        return len(data)

    def read(self, size=None):
        return b""

    def seek(self, offset, whence=0):
        return 0

    def flush(self):
        out.flush()

    def size(self):
        return 0


class Factory(py7zr.WriterFactory):
    def create(self, filename):
        return Writer()


with py7zr.SevenZipFile(sys.argv[1], "r") as archive:
    archive.extract(targets=[sys.argv[2]], factory=Factory())
out.flush()
"""


class _SevenZipMemberStream(io.RawIOBase):
    """A file-like stream of one archive member, decompressed by py7zr in a child process and
    read through a pipe: the member is never held whole in memory or on disk.

    A child process rather than a thread: decompression then runs on another core, and its
    memory goes back to the system when it ends (in a thread, glibc kept ~20 MB of it after
    every pass over an archive)."""

    def __init__(self, archive: Path, member: str):
        self._label = f"{archive}:{member}"
        self._expanded = 0
        self._max_expanded = limits.current().max_expanded_bytes
        self._errors = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [sys.executable, "-c", _EXTRACT_MEMBER, str(archive), member],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._errors,
        )

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._process.stdout.readinto(buffer)
        self._expanded += count
        if self._expanded > self._max_expanded:
            raise limits.expanded_too_large(self._label, f"byte {self._max_expanded:,} of the member", self._max_expanded)
        if count == 0 and self._process.wait() != 0:
            self._errors.seek(0)
            message = self._errors.read().decode("utf-8", "replace").strip().splitlines()
            raise SourceFormatError(
                self._label, "", f"cannot decompress: {message[-1] if message else 'py7zr failed'}"
            )
        return count

    def close(self) -> None:
        if not self.closed:
            if self._process.poll() is None:
                self._process.kill()
            self._process.stdout.close()
            self._process.wait()
            self._errors.close()
        super().close()


def _open_xml(path: Path, member: str | None):
    if member is None:
        return open(path, "rb", buffering=1 << 16)
    return io.BufferedReader(_SevenZipMemberStream(path, member), buffer_size=1 << 20)


class _BoundedTags:
    """A binary stream read by the XML parser, holding every tag or text run (the bytes between two "<", which
    no attribute value may hold) to IMPORT_MAX_RECORD_BYTES: a row is one tag, so none grows past the limit in
    memory. huge_tree stays on for real dumps' long bodies; libxml2 still refuses entity amplification."""

    def __init__(self, handle, label: str, max_record: int):
        self._handle, self._label, self._max = handle, label, max_record
        self._since = 0  # bytes since the last "<"
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(min(size, self._max) if size and size > 0 else self._max)
        last = data.rfind(b"<")
        first = data.find(b"<") if last >= 0 else len(data)
        # Inside one read, runs between two "<" are shorter than the read, itself at most the limit.
        if self._since + first > self._max:
            raise limits.record_too_large(self._label, f"byte offset {self._offset - self._since}", self._max)
        self._since = len(data) - last - 1 if last >= 0 else self._since + len(data)
        self._offset += len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def _rows(label: str, opener, root_tag: str = "posts") -> Iterator:
    """Each <row> element of a dump file, cleared once the caller moves on."""
    handle = _BoundedTags(opener(), label, limits.current().max_record_bytes)
    try:
        parser = etree.iterparse(handle, events=("end",), tag="row", huge_tree=True)
        checked_root = False
        for _, element in parser:
            if not checked_root:
                checked_root = True
                root = element.getparent()
                if root is None or root.tag != root_tag:
                    found = "nothing" if root is None else f"<{root.tag}>"
                    raise SourceFormatError(
                        label, f"line {element.sourceline}",
                        f"expected rows under <{root_tag}>, found them under {found}",
                    )
            yield element
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else getattr(exc, "position", (0,))[0]
        raise SourceFormatError(label, f"line {line}", f"malformed XML: {exc.msg}") from exc
    finally:
        handle.close()


def _int(element, name: str, label: str, default: int | None = None) -> int | None:
    value = element.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SourceFormatError(
            label, f"line {element.sourceline}", f"{name}={value!r} is not an integer"
        ) from None


def _post_id(element, name: str, label: str) -> int | None:
    value = _int(element, name, label)
    if value is not None and not 0 < value <= _MAX_ID:
        raise SourceFormatError(label, f"line {element.sourceline}", f"{name}={value} is out of range")
    return value


class _IdBits:
    """A set of non-negative ids as a growable bitset: 1 bit per id up to the largest one."""

    def __init__(self, data: bytes | bytearray = b""):
        self.data = bytearray(data)
        self.count = 0  # kept by callers that need it

    @classmethod
    def from_ids(cls, ids: np.ndarray) -> "_IdBits":
        if not len(ids):
            return cls()
        bits = np.zeros(int(ids.max()) // 8 + 1, dtype=np.uint8)
        np.bitwise_or.at(bits, ids >> 3, (1 << (ids & 7)).astype(np.uint8))
        return cls(bits.tobytes())

    def add(self, value: int) -> None:
        index = value >> 3
        if index >= len(self.data):
            self.data.extend(bytes(max(index + 1 - len(self.data), len(self.data))))
        self.data[index] |= 1 << (value & 7)

    def update(self, other: "_IdBits") -> None:
        """Add every id of `other`."""
        if len(other.data) > len(self.data):
            self.data.extend(bytes(len(other.data) - len(self.data)))
        if other.data:
            mine = np.frombuffer(self.data, dtype=np.uint8, count=len(other.data))
            mine |= np.frombuffer(other.data, dtype=np.uint8)
            del mine  # release the buffer: the bytearray may grow again

    def __contains__(self, value: int) -> bool:
        index = value >> 3
        return 0 <= index < len(self.data) and bool(self.data[index] >> (value & 7) & 1)

    def __iter__(self) -> Iterator[int]:
        """The ids in increasing order, unpacked a slice at a time (stackoverflow: ~80M bits)."""
        data = np.frombuffer(bytes(self.data), dtype=np.uint8)
        step = 1 << 20
        for offset in range(0, len(data), step):
            bits = np.unpackbits(data[offset : offset + step], bitorder="little")
            yield from (np.flatnonzero(bits) + offset * 8).tolist()

    def flags(self, ids: np.ndarray) -> np.ndarray:
        data = np.frombuffer(bytes(self.data), dtype=np.uint8)
        index = ids >> 3
        inside = index < len(data)
        result = np.zeros(len(ids), dtype=bool)
        result[inside] = (data[index[inside]] >> (ids[inside] & 7)) & 1 == 1
        return result


# --- Sharing the work with forked child processes ------------------------------------------

# Below these, a dump is read in this process alone: a child costs a few milliseconds to start.
PARALLEL_MIN_BYTES = 16_000_000  # pass 1 in parts, one process each
PARALLEL_MIN_PAIRS = 500  # pass 2 with a child making part of the records
MAX_PARTS = 4
# The child's share of pass 2's pairs (by question id, modulo the second number): this process
# also feeds the database, so it keeps the smaller part.
_PASS2_SHARE = (2, 3)
def _processes() -> int:
    """How many processes can share a dump: the CPUs this process may run on, if it can fork."""
    if not hasattr(os, "fork"):
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _portable(items: Iterator[tuple]) -> Iterator[tuple]:
    """Items of _line_pairs made fit for the pipe: an exception that would not survive pickling
    goes as one that does, with the same message."""
    for item in items:
        outcome = item[-1]
        if isinstance(outcome, BaseException):
            if isinstance(outcome, SourceFormatError):
                outcome = _SourceFormatErrorOfChild(outcome.path, outcome.where, outcome.message)
            else:
                try:
                    pickle.loads(pickle.dumps(outcome))
                except Exception:
                    outcome = RuntimeError(f"{type(outcome).__name__}: {outcome}")
            item = (*item[:-1], outcome)
        yield item


class _SourceFormatErrorOfChild(SourceFormatError):
    """A SourceFormatError that pickles (its arguments are not its message)."""

    def __reduce__(self):
        return (type(self), (self.path, self.where, self.message))


class _ByteRange:
    """Bytes [start, end) of a file with ``prefix`` before and ``suffix`` after: one part of a
    dump made a document of its own."""

    def __init__(self, path: Path, start: int, end: int, prefix: bytes = b"", suffix: bytes = b""):
        self._file = open(path, "rb")
        self._file.seek(start)
        self._left = end - start
        self._prefix, self._suffix = prefix, suffix

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix, b""
            return data
        if self._left > 0:
            data = self._file.read(self._left if size is None or size < 0 else min(size, self._left))
            self._left = self._left - len(data) if data else 0
            if data:
                return data
        data, self._suffix = self._suffix, b""
        return data

    def close(self) -> None:
        self._file.close()


# What may come before the rows for a dump to be cut in parts: a BOM, the XML declaration, <posts>
# (no DOCTYPE, whose entities a part would not know; no attributes or namespaces on the root).
_PLAIN_HEAD = re.compile(rb"(?:\xef\xbb\xbf)?(?:<\?xml[^>]*\?>)?\s*<posts>")
_ROW_LINE = re.compile(rb"\n[ \t]*<row[\s/>]")


def _cut_points(path: Path, size: int, parts: int) -> tuple[bytes, list[int]] | None:
    """The file's head and the offsets that cut it into ``parts``: each the start of a line that
    opens a <row>, near an equal share of the bytes. None when the head is not a plain one.

    A cut that is not between two rows of <posts> after all (the line is inside a comment, a
    CDATA section, an element other than <posts>) makes a part malformed, and the caller reads the
    file in one piece; a part that parses shows that the cut was at the top level of <posts>."""
    with open(path, "rb") as handle:
        head = _PLAIN_HEAD.match(handle.read(4096))
        if head is None:
            return None
        points = []
        for part in range(1, parts):
            at = max(size * part // parts, head.end(), points[-1] if points else 0)
            handle.seek(at)
            found = _ROW_LINE.search(handle.read(1 << 20))
            if found is None:
                return None
            points.append(at + found.start() + 1)
    return head.group(0), points


def _scan_in_parts(source: PostsSource, min_score: int) -> "_Scan | None":
    """Pass 1 of a big plain file in several processes, each parsing one part of it as a document
    of its own (the file's head, its rows from one line to another, ``</posts>``); the scans put
    end to end are the scan of the whole file. None when the file is small, compressed or not
    cut cleanly, and when any part fails: the caller then reads the whole file, which names the
    error where a single pass would."""
    parts = min(_processes(), MAX_PARTS)
    if parts < 2 or source.member is not None:
        return None
    size = source.path.stat().st_size
    if size < PARALLEL_MIN_BYTES:
        return None
    cut = _cut_points(source.path, size, parts)
    if cut is None:
        return None
    head, points = cut
    bounds = [0, *points, size]
    label = source.label

    def scan_part(part: int) -> _Scan:
        prefix = head if part else b""
        suffix = b"</posts>" if part < parts - 1 else b""
        opener = lambda: _ByteRange(source.path, bounds[part], bounds[part + 1], prefix, suffix)  # noqa: E731
        return _scan(_rows(label, opener), label, min_score)

    children = []
    try:
        children = [ForkedChild(lambda part=part: [scan_part(part)]) for part in range(1, parts)]
        scan = scan_part(0)
        for child in children:
            (later,) = list(child)
            scan.extend(later)
        return scan
    except Exception:  # noqa: BLE001 - any failure: one pass over the whole file says what it is
        return None
    finally:
        for child in children:
            child.close()


# --- Pass 1: which answer is each question's top answer --------------------------------------

@dataclass
class _Join:
    """Pass 1's plan: the questions, and the pairs pass 2 must find (each needed question with its
    top answer, side by side, in question order)."""

    questions: _IdBits
    answered: _IdBits
    pair_questions: np.ndarray
    pair_answers: np.ndarray
    owners: np.ndarray  # owner ids of the top answers (for the Users.xml look-up)

    def __post_init__(self):
        self.needed_questions = _IdBits.from_ids(self.pair_questions)
        self.needed_rows = self.rows_of(slice(None))

    @property
    def pairs(self) -> int:
        return len(self.pair_questions)

    def rows_of(self, pairs) -> _IdBits:
        """The rows of some pairs (an index or mask into them): their questions and answers."""
        return _IdBits.from_ids(np.concatenate([self.pair_questions[pairs], self.pair_answers[pairs]]))


@dataclass
class _Scan:
    """What pass 1 keeps of the rows it reads (a whole file, or one part of it)."""

    # The answers that pass the cheap score rule, in file order.
    parents: array = field(default_factory=lambda: array("q"))
    answers: array = field(default_factory=lambda: array("q"))
    scores: array = field(default_factory=lambda: array("q"))
    owners: array = field(default_factory=lambda: array("q"))
    questions: _IdBits = field(default_factory=_IdBits)
    answered: _IdBits = field(default_factory=_IdBits)
    accepted: _IdBits = field(default_factory=_IdBits)
    counts: Counter = field(default_factory=Counter)  # rows per PostTypeId
    rows_without_id: int = 0

    def extend(self, later: "_Scan") -> None:
        """Add the scan of the rows that come after these."""
        for name in ("parents", "answers", "scores", "owners"):
            getattr(self, name).extend(getattr(later, name))
        for name in ("questions", "answered", "accepted"):
            getattr(self, name).update(getattr(later, name))
        self.counts.update(later.counts)
        self.rows_without_id += later.rows_without_id


def _scan(rows: Iterator, label: str, min_score: int) -> _Scan:
    """Pass 1 over some rows. This loop runs for every row of the dump: the common case is inline,
    and a missing or bad value goes to the slow path (``_post_id``, ``_int``), which says which."""
    scan = _Scan()
    parents, answers, scores, owners = scan.parents, scan.answers, scan.scores, scan.owners
    add_question, add_answered, add_accepted = scan.questions.add, scan.answered.add, scan.accepted.add
    answer_rows = question_rows = 0
    other_rows = Counter()
    for row in rows:
        get = row.get
        kind = get("PostTypeId")
        if kind == ANSWER:
            answer_rows += 1
            try:
                parent, answer = int(get("ParentId")), int(get("Id"))
                score = int(get("Score") or 0)
                if not (0 < parent <= _MAX_ID and 0 < answer <= _MAX_ID):
                    raise ValueError
            except (TypeError, ValueError):
                parent = _post_id(row, "ParentId", label)
                answer = _post_id(row, "Id", label)
                score = _int(row, "Score", label, 0)
                if parent is None or answer is None:
                    continue
            add_answered(parent)
            if score >= min_score:  # the cheap rule, before anything is kept
                parents.append(parent)
                answers.append(answer)
                scores.append(score)
                owners.append(_int(row, "OwnerUserId", label, -1))
        elif kind == QUESTION:
            question_rows += 1
            try:
                question = int(get("Id"))
                if not 0 < question <= _MAX_ID:
                    raise ValueError
            except (TypeError, ValueError):
                question = _post_id(row, "Id", label)
                if question is None:
                    scan.rows_without_id += 1
                    continue
            add_question(question)
            if get("AcceptedAnswerId"):
                add_accepted(_post_id(row, "AcceptedAnswerId", label))
        else:
            other_rows[kind] += 1
    scan.counts.update(other_rows)
    scan.counts[ANSWER] += answer_rows
    scan.counts[QUESTION] += question_rows
    return scan


def _plan_join(source: PostsSource, min_score: int, stats: Counter) -> _Join:
    label = source.label
    scan = _scan_in_parts(source, min_score)
    if scan is None:
        scan = _scan(_rows(label, source.open), label, min_score)
    counts = Counter(scan.counts)
    if scan.rows_without_id:
        stats["rows_without_id"] += scan.rows_without_id
    stats["rows"] += sum(counts.values())
    stats["questions"] += counts.pop(QUESTION, 0)
    stats["answers"] += counts.pop(ANSWER, 0)
    stats["other_posts"] += sum(counts.values())  # tag wikis (4, 5) and rarer types: no questions
    parent_ids = np.frombuffer(scan.parents, dtype=np.int64)
    answer_ids = np.frombuffer(scan.answers, dtype=np.int64)
    score_values = np.frombuffer(scan.scores, dtype=np.int64)
    is_accepted = scan.accepted.flags(answer_ids)
    # Per question: highest score, then the accepted answer, then the oldest (lowest id).
    order = np.lexsort((answer_ids, ~is_accepted, -score_values, parent_ids))
    sorted_parents = parent_ids[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_parents[1:] != sorted_parents[:-1]
    best = order[first]
    best = best[scan.questions.flags(parent_ids[best])]  # an answer to no question here joins nothing
    return _Join(
        questions=scan.questions,
        answered=scan.answered,
        pair_questions=parent_ids[best],
        pair_answers=answer_ids[best],
        owners=np.frombuffer(scan.owners, dtype=np.int64)[best],
    )


def _display_names(source: PostsSource, owner_ids: np.ndarray) -> dict[int, str]:
    """Display names of the needed answers' owners, from Users.xml when the dump has one."""
    wanted_ids = owner_ids[owner_ids > 0]
    if not len(wanted_ids) or not source.has_users:
        return {}
    wanted = _IdBits.from_ids(wanted_ids)
    names: dict[int, str] = {}
    for row in _rows(source.users_label, source.open_users, root_tag="users"):
        user_id = _int(row, "Id", source.users_label)
        if user_id is not None and user_id > 0 and user_id in wanted:
            names[user_id] = row.get("DisplayName") or ""
    return names


# --- Pass 2: the records ---------------------------------------------------------------------

class _Staging:
    """The halves of needed pairs waiting for each other: in memory up to a budget, then in a
    temporary SQLite file (stackoverflow's answers can arrive years, and GBs, after their
    question)."""

    def __init__(self, workdir: str | None, budget_bytes: int):
        self.workdir, self.budget = workdir, budget_bytes
        self.memory: dict[str, dict[int, dict]] = {"questions": {}, "answers": {}}
        self.size = 0
        self.folder: str | None = None
        self.db: sqlite3.Connection | None = None

    @staticmethod
    def _size(row: dict) -> int:
        return len(row.get("Body") or "") + 500  # the body, and roughly the other attributes

    def put(self, table: str, key: int, row: dict) -> None:
        self.memory[table][key] = row
        self.size += self._size(row)
        if self.size > self.budget:
            self._spill()

    def _spill(self) -> None:
        if self.db is None:
            self.folder = tempfile.mkdtemp(prefix="stackexchange-join-", dir=self.workdir)
            self.db = sqlite3.connect(os.path.join(self.folder, "join.sqlite"), isolation_level=None)
            self.db.execute("PRAGMA journal_mode=OFF")
            self.db.execute("PRAGMA synchronous=OFF")
            for table in self.memory:
                self.db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, row TEXT)")
        for table, rows in self.memory.items():
            self.db.executemany(
                f"INSERT OR REPLACE INTO {table} VALUES (?, ?)",
                ((key, json.dumps(row)) for key, row in rows.items()),
            )
            rows.clear()
        self.size = 0

    def take(self, table: str, key: int) -> dict | None:
        row = self.memory[table].pop(key, None)
        if row is not None:
            self.size -= self._size(row)
            return row
        if self.db is None:
            return None
        found = self.db.execute(f"SELECT row FROM {table} WHERE id = ?", (key,)).fetchone()
        if found is None:
            return None
        self.db.execute(f"DELETE FROM {table} WHERE id = ?", (key,))
        return json.loads(found[0])

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            shutil.rmtree(self.folder, ignore_errors=True)


def _prompt_kind(seed, site: str, question_id: int, title_share: float) -> str:
    """Title or body, decided by a hash of (seed, site, question): the same whatever the order
    of the file or the other questions in it."""
    digest = hashlib.blake2b(f"{seed}|{site}|{question_id}".encode(), digest_size=8).digest()
    return "title" if int.from_bytes(digest, "big") / 2**64 < title_share else "body"


def parse_tags(value: str | None) -> list[str]:
    """Tags in either dump form: "<a><b>" (after XML decoding) or "|a|b|"."""
    if not value:
        return []
    if "<" in value:
        return re.findall(r"<([^<>]+)>", value)
    return [tag for tag in value.split("|") if tag]


def licence_for(row: dict) -> tuple[str, bool]:
    """(licence, inferred): ContentLicense, or the licence Stack Exchange used on that date."""
    if row.get("ContentLicense"):
        return row["ContentLicense"], False
    created = row.get("CreationDate") or ""
    for since, licence in _LICENCE_SINCE:
        if created >= since:
            return licence, True
    return _LICENCE_SINCE[-1][1], True


def _url(site: str, kind: str, number) -> str | None:
    return f"https://{site}/{kind}/{number}" if "." in site else None


def _author(row: dict, names: dict[int, str], site: str) -> dict:
    user_id = row.get("OwnerUserId")
    user_id = int(user_id) if user_id not in (None, "") else None
    # Deleted owners keep only OwnerDisplayName ("user39"); live ones come from Users.xml.
    name = row.get("OwnerDisplayName") or (names.get(user_id) if user_id else None)
    if name is None and user_id is not None:
        name = f"user{user_id}"
    return {
        "author": name or "",
        "author_user_id": user_id,
        "author_url": _url(site, "users", user_id) if user_id and user_id > 0 else None,
    }


def _question_metadata(row, site: str, question_id: int) -> dict:
    return {
        "site": site,
        "question_id": question_id,
        "url": _url(site, "questions", question_id),
        "title": row.get("Title") or "",
        "question_score": int(row.get("Score") or 0),
        "tags": parse_tags(row.get("Tags")),
    }


def _pair_record(question: dict, answer: dict, source: PostsSource, names, options) -> Record:
    site = source.site
    question_id, answer_id = int(question["Id"]), int(answer["Id"])
    score = int(answer.get("Score") or 0)
    title = (question.get("Title") or "").strip()
    policy = options["policy"]
    kind = _prompt_kind(options["seed"], site, question_id, options["title_share"])
    converted = []

    def body() -> str:  # the question's body, converted once, and only if needed
        if not converted:
            converted.append(html_to_markdown(question.get("Body") or "", policy))
        return converted[0]

    title_check = None
    if kind == "title" and title and options["self_contained_titles"]:
        # LIMA.md: "questions that are self-contained in the title"; one that is not is asked by its body.
        title_check = title_not_self_contained(title, body)
        if title_check and body():
            kind = "body"
    prompt = title
    if kind == "body" or not title:
        prompt, kind = body(), "body"
    if not prompt:
        prompt, kind = title, "title"
    # The rules read the answer before its clean-up, with its quotes and emphasis: quoted words are
    # someone else's, and "*I*" names the word. What is kept is cleaned as the policy says.
    rules_text = converted_markdown(answer.get("Body") or "")
    answer_text = clean_markdown(rules_text, policy)
    verdict = judge_answer(
        answer_text,
        score,
        min_score=options["min_score"],
        min_chars=options["min_chars"],
        max_chars=options["max_chars"],
        first_person=options["first_person"],
        references=options["references"],
        rules_text=rules_text,
        # The question as written (HTML is enough to find a site's name in it).
        topic=f"{title}\n{question.get('Body') or ''}\n{question.get('Tags') or ''}",
        site_is_topic=is_meta_site(site),
    ) if prompt else None
    reason = EMPTY_PROMPT if verdict is None else verdict.reason
    licence, inferred = licence_for(answer)
    metadata = _question_metadata(question, site, question_id)
    metadata.update(
        answer_id=answer_id,
        answer_url=_url(site, "a", answer_id),
        score=score,
        accepted=question.get("AcceptedAnswerId") == answer["Id"],
        licence=licence,
        licence_inferred=inferred,
        prompt_kind=kind,
        question_created=question.get("CreationDate"),
        answer_created=answer.get("CreationDate"),
        **_author(answer, names, site),
    )
    if title_check and kind == "body":
        metadata["title_not_self_contained"] = title_check
    if verdict is not None:
        metadata.update(verdict.detail)
    return Record(
        external_id=f"{site}/questions/{question_id}",
        turns=[prompt, answer_text],
        domain=site,
        metadata=metadata,
        reject_reason=reason,
        location=f"{source.label} line {question['_line']} (answer line {answer['_line']})",
    )


def _cheap_rejections(source: PostsSource, join: _Join, score_reason: str, site_reason: str | None = None) -> Iterator[Record]:
    """Questions whose top answer fails the score rule, or that have none, straight from pass 1's
    bitsets: their rows are never read again, so they carry ids and a link, not text. With
    ``site_reason`` (a site left out), every question of the site, with that reason."""
    site = source.site
    for question_id in join.questions:
        if site_reason is None and question_id in join.needed_questions:
            continue
        reason = site_reason or (score_reason if question_id in join.answered else NO_ANSWER)
        yield Record(
            external_id=f"{site}/questions/{question_id}",
            turns=[],
            domain=site,
            metadata={"site": site, "question_id": question_id,
                      "url": _url(site, "questions", question_id)},
            reject_reason=reason,
            location=f"{source.label} question {question_id}",
        )


class _NotOneRowPerLine(Exception):
    def __init__(self, line: int):
        super().__init__(f"line {line} is not one whole row")
        self.line = line


def _needed_rows_by_line(source: PostsSource, needed: _IdBits) -> Iterator[dict]:
    """The rows in ``needed``, found without parsing the others: a published dump holds one <row>
    per line, so a line's id is read from its bytes and only needed lines go through the XML
    parser (which checks them). A needed line that is not one whole row raises _NotOneRowPerLine;
    a layout that hides rows (two on a line) leaves pairs unfound: either way the caller falls
    back to a full parse."""
    needed = needed.data
    size = len(needed)
    parser = etree.XMLParser(huge_tree=True)  # one per pass: lxml parsers are not thread-safe
    max_record = limits.current().max_record_bytes
    with source.open() as handle:
        for number, line in enumerate(iter(lambda: handle.readline(max_record + 2), b""), 1):
            if len(line) > max_record + 1:
                raise _NotOneRowPerLine(number)  # the parse that follows says where, and which limit
            at = line.find(b' Id="')
            if at < 0:
                continue
            end = line.find(b'"', at + 5)
            try:
                post_id = int(line[at + 5 : end])
            except ValueError:
                raise _NotOneRowPerLine(number) from None
            # _IdBits.__contains__, inline: this loop runs for every line of the dump.
            index = post_id >> 3
            if index >= size or not (needed[index] >> (post_id & 7)) & 1:
                continue
            try:
                row = etree.fromstring(line.strip(), parser)
            except etree.XMLSyntaxError:
                raise _NotOneRowPerLine(number) from None
            if row.tag != "row" or row.get("Id") != str(post_id):
                raise _NotOneRowPerLine(number)
            kept = dict(row.attrib)
            kept["_line"] = number
            yield kept


def _needed_rows_by_parsing(source: PostsSource, needed: _IdBits) -> Iterator[dict]:
    label = source.label
    for row in _rows(label, source.open):
        post_id = _post_id(row, "Id", label)
        if post_id is not None and post_id in needed:
            kept = dict(row.attrib)
            kept["_line"] = row.sourceline
            yield kept


def _pairs(rows: Iterator[dict], source, names, options, staging, done: _IdBits):
    """Join needed questions and answers, whichever comes first, and make their records:
    (line where the pair completes, question id, record). ``done`` holds the questions already
    yielded, so a second run over the file skips them."""
    for row in rows:
        kind = row.get("PostTypeId")
        if kind == QUESTION:
            question_id = int(row["Id"])
            if question_id in done:
                continue
            answer = staging.take("answers", question_id)
            if answer is None:
                staging.put("questions", question_id, row)
                continue
            question = row
        elif kind == ANSWER:
            question_id = int(row["ParentId"])
            if question_id in done:
                continue
            question = staging.take("questions", question_id)
            if question is None:
                staging.put("answers", question_id, row)
                continue
            answer = row
        else:
            continue
        done.add(question_id)
        done.count += 1
        yield row["_line"], question_id, _pair_record(question, answer, source, names, options)


_NOT_ONE_ROW = "not one row per line"


def _line_pairs(source, needed: _IdBits, names, options, workdir, budget) -> Iterator[tuple]:
    """Pass 2 the fast way (one row per line) for the pairs whose rows are in ``needed``, as
    ``_pairs`` yields them. It ends with (line, 0, _NOT_ONE_ROW) where a needed line is not one
    whole row, or with (line, 0, the exception) where making a record failed: so that a part made
    in another process stops the caller at the same place as a single pass would."""
    staging = _Staging(workdir, budget)
    position = [0]

    def tracked(rows):
        for row in rows:
            position[0] = row["_line"]
            yield row

    try:
        yield from _pairs(tracked(_needed_rows_by_line(source, needed)), source, names, options,
                          staging, _IdBits())
    except _NotOneRowPerLine as stop:
        yield stop.line, 0, _NOT_ONE_ROW
    except Exception as exc:
        yield position[0], 0, exc
    finally:
        staging.close()


class _PairsByLine:
    """The pairs found by lines (pass 2's fast way), in the order they complete in the file.

    A big plain dump is shared with a forked child process, started as soon as this object is
    made (so it works while the caller still yields the cheap rejections): it makes the records
    of the pairs whose question id falls in ``_PASS2_SHARE``, this process the others, and
    ``records`` merges the two streams by line, so the records come in the very order of a single
    pass. (Cleaning HTML is most of pass 2's time, and this process also has the database to
    feed.) ``close()`` stops and reaps the child."""

    def __init__(self, source, join: _Join, names, options):
        budget = int(options["join_memory_mb"] * 1_000_000)
        self.child = self.child_dir = None
        if _processes() < 2 or source.member is not None or join.pairs < PARALLEL_MIN_PAIRS:
            self.mine = _line_pairs(source, join.needed_rows, names, options, options["workdir"], budget)
            self.items = self.mine
            return
        modulus = _PASS2_SHARE[1]
        in_child = join.pair_questions % modulus >= modulus - _PASS2_SHARE[0]
        # Its own folder, removed here: a child stopped early cannot clean up after itself.
        self.child_dir = tempfile.mkdtemp(prefix="stackexchange-part-", dir=options["workdir"])
        rows, folder = join.rows_of(in_child), self.child_dir
        self.child = ForkedChild(lambda: _portable(_line_pairs(source, rows, names, options, folder, budget // 2)))
        self.mine = _line_pairs(source, join.rows_of(~in_child), names, options, options["workdir"], budget // 2)
        self.items = heapq.merge(self.mine, self.child, key=lambda item: item[0])

    def records(self, done: _IdBits) -> Iterator[Record]:
        """The records, each question added to ``done``; stops quietly where the file turns out
        not to be one row per line (the caller then parses it, skipping what is done)."""
        for _, question_id, outcome in self.items:
            if isinstance(outcome, str):  # _NOT_ONE_ROW
                return
            if isinstance(outcome, BaseException):
                raise outcome
            done.add(question_id)
            done.count += 1
            yield outcome

    def close(self) -> None:
        self.mine.close()
        if self.child is not None:
            self.child.close()
            shutil.rmtree(self.child_dir, ignore_errors=True)
            self.child = None


def _site_left_out(site: str, options: dict) -> str | None:
    if options["exclude_meta_sites"] and is_meta_site(site):
        return META_SITE
    if is_niche_site(site, options["excluded_sites"]):
        return NICHE_SITE
    return None


def _site_records(source: PostsSource, options: dict, stats: Counter) -> Iterator[Record]:
    left_out = _site_left_out(source.site, options)
    if left_out:
        # Decided from the site's name: pass 1 only lists its questions, no text is read or cleaned.
        before = stats["questions"]
        join = _plan_join(source, options["min_score"], stats)
        questions = stats["questions"] - before
        stats["sites_left_out"] += 1
        warn(stats, (
            f"{source.site} is a meta site: its {questions:,} questions are left out ({META_SITE}); "
            "import with exclude_meta_sites=false to read them."
            if left_out == META_SITE else
            f"{source.site} is on the niche list: its {questions:,} questions are left out "
            f"({NICHE_SITE}); import with excluded_sites=[] to read them."
        ))
        yield from _cheap_rejections(source, join, "", site_reason=left_out)
        return
    join = _plan_join(source, options["min_score"], stats)
    names = _display_names(source, join.owners)
    done = _IdBits()
    by_line = _PairsByLine(source, join, names, options)
    try:
        yield from _cheap_rejections(source, join, f"answer_score_below_{options['min_score']}")
        yield from by_line.records(done)
    finally:
        by_line.close()
    if done.count < join.pairs:
        # Parse everything instead; `done` skips what was yielded.
        staging = _Staging(options["workdir"], int(options["join_memory_mb"] * 1_000_000))
        try:
            rows = _needed_rows_by_parsing(source, join.needed_rows)
            for _, _, record in _pairs(rows, source, names, options, staging, done):
                yield record
        finally:
            staging.close()


def iter_records(
    path: str | Path,
    *,
    site: str | None = None,
    seed: int = 0,
    title_prompt_share: float = TITLE_PROMPT_SHARE,
    min_score: int = MIN_ANSWER_SCORE,
    min_chars: int = MIN_ANSWER_CHARS,
    max_chars: int = MAX_ANSWER_CHARS,
    first_person: bool = True,
    references: bool = True,
    self_contained_titles: bool = True,
    exclude_meta_sites: bool = True,
    excluded_sites: list[str] | str | None = None,
    markdown_policy: str = "stackexchange",
    workdir: str | None = None,
    join_memory_mb: float = 64,
    stats: Counter | None = None,
) -> Iterator[Record]:
    """One record per question of every site under ``path``, accepted or with a reason.

    - ``site``: the site's domain when the file or folder name does not say it.
    - ``seed`` / ``title_prompt_share``: which questions are prompted by their title (the rest by
      their body); deterministic per question.
    - ``min_score`` / ``min_chars`` / ``max_chars``: LIMA's rules (10; 1,200-4,096 characters).
    - ``first_person`` / ``references``: LIMA's rules on the answer's prose (``filters``), on or off.
    - ``self_contained_titles``: a question picked to be prompted by its title whose title cannot
      stand alone ("What does this code do?") is prompted by its body; the record keeps why
      (``metadata["title_not_self_contained"]``).
    - ``exclude_meta_sites``: meta sites are left out (``meta_site``); ``excluded_sites``: sites
      left out (``niche_site``), default the ``niche`` list of stem_sites.toml; ``[]`` for none.
    - ``markdown_policy``: what the Markdown keeps (``curation.sources.cleaning.POLICIES``).
    - ``join_memory_mb``: how much of the rows waiting for their other half stay in memory;
      beyond it they go to a temporary SQLite file in ``workdir`` (default: the system's).
    - ``stats``: a Counter filled with rows / questions / answers / other_posts read.

    Reasons (``RULES``): ``meta_site``, ``niche_site``, ``no_answer``, ``answer_score_below_10``,
    ``empty_prompt`` and those of ``curation.sources.filters.judge_answer`` (``answer_too_short``,
    ``answer_too_long``, ``first_person``, ``refers_to_other_answers``, ``empty_answer``). Records
    rejected for their site, the score or for having no answer carry no text (``turns == []``),
    only ids and a link. Records whose answer went through the text rules keep the language they
    were read in (``metadata["language"]``) and, rejected by one, what it found
    (``metadata["rule_hits"]``: list used, words, sentence)."""
    if not 0.0 <= title_prompt_share <= 1.0:
        raise ValueError("title_prompt_share must be between 0 and 1")
    policy = policy_named(markdown_policy)
    if isinstance(excluded_sites, str):
        excluded_sites = [name for name in excluded_sites.split(",") if name.strip()]
    options = dict(
        seed=seed,
        title_share=title_prompt_share,
        min_score=min_score,
        min_chars=min_chars,
        max_chars=max_chars,
        first_person=first_person,
        references=references,
        self_contained_titles=self_contained_titles,
        exclude_meta_sites=exclude_meta_sites,
        excluded_sites=frozenset(niche_sites() if excluded_sites is None else excluded_sites),
        policy=policy,
        workdir=workdir,
        join_memory_mb=join_memory_mb,
    )
    stats = Counter() if stats is None else stats
    for source in find_posts_sources(path, site):
        yield from _site_records(source, options, stats)


# --- The plug-in ---------------------------------------------------------------------------------------------

# LIMA.md: 200 STEM + 200 other, across exchanges with tau = 3, highest-scoring questions first.
TARGETS = {"stem": 200, "other": 200}


def _default_name(path: Path, options: dict) -> str:
    """The exchange site a dump holds (from the archive's or the folder's name), else the file's name."""
    sources = find_posts_sources(path, options.get("site"), require_site=False)
    if len(sources) == 1 and sources[0].site is None:
        raise ValueError(
            f"{path.name} does not tell which Stack Exchange site it holds: give the source name, the site's "
            "domain (e.g. coffee.stackexchange.com)"
        )
    sites = {posts.site for posts in sources}
    return sites.pop() if len(sites) == 1 else path.name


def _input_files(path: Path, options: dict) -> list:
    try:
        return sorted({posts.path for posts in find_posts_sources(path, options.get("site"))})
    except (SourceFormatError, ValueError):
        return []


def _bucket(domain: str, metadata: dict, site_groups) -> str:
    from curation.sources.stem_sites import site_group

    site = domain or metadata.get("site", "")
    return "se_stem" if site and site_group(site, site_groups) == "stem" else "se_other"


SOURCE = register(SourceKind(
    kind="stackexchange", label="Stack Exchange", parser=__name__, targets=TARGETS, passes=2,
    licence="CC BY-SA", url="https://archive.org/details/stackexchange", default_name=_default_name,
    input_files=_input_files, bucket=_bucket, order=10,
    buckets={"se_stem": ("Stack Exchange · STEM", 10), "se_other": ("Stack Exchange · other", 20)},
))
