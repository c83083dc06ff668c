"""The plain record every source parser yields, and the error it raises on bad input.

Each source module (``curation.sources.<kind>``) exposes
``iter_records(path, **options) -> Iterator[Record]``: it streams the file in constant memory,
yields accepted *and* rejected records (a rejected one carries ``reject_reason`` so a person can
look at it later and rescue it), and raises :class:`SourceFormatError` on malformed input.
Options have LIMA's defaults; everything is deterministic given a ``seed``.

Each module also declares ``RULES``: one :class:`Rule` per reason it can give, saying which of its
options loosens it (the import page's rule report offers a re-run with it), and fills the ``stats``
Counter it is given with counts; what a person should know about the run as a whole (no record
matched the subreddits asked for, a whole site was left out) goes in with :func:`warn`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

SPLITS = ("train", "dev", "test", "unassigned")


@dataclass
class Record:
    # Stable and unique within one source, so a re-import updates rather than duplicates.
    external_id: str
    # Markdown; alternating user/assistant, starting with the user. Prompt-only = [prompt].
    turns: list[str]
    # Exchange site, wikiHow category, subreddit, task name.
    domain: str = ""
    # Attribution: url, author, score, licence, site, question_id, ...
    metadata: dict = field(default_factory=dict)
    # "train" | "dev" | "test" | "unassigned" (e.g. r/AskReddit titles go to "test").
    split: str = "unassigned"
    # None = accepted candidate; else a short snake_case reason ("answer_score_below_10").
    reject_reason: str | None = None
    # Where it came from, for messages: "Posts.xml line 120".
    location: str = ""

    @property
    def accepted(self) -> bool:
        return self.reject_reason is None


class SourceFormatError(Exception):
    """A malformed input file. str() names the file and the line or byte offset."""

    def __init__(self, path, where, message):
        self.path = str(path)
        self.where = where
        self.message = message
        location = f"{self.path}, {where}" if where else self.path
        super().__init__(f"{location}: {message}")


@dataclass(frozen=True)
class Rule:
    """One reason a parser can reject a record with, and how to loosen it.

    ``reason`` is the reject_reason, or its prefix for numbered ones ("answer_score_below_" for
    "answer_score_below_10"). ``option`` is the ``iter_records`` keyword that loosens it (None: it
    is a fact about the record, not a rule: there is no answer to import), ``loosen`` the value to
    re-run with, from the value the run had."""

    reason: str
    summary: str
    option: str | None = None
    loosen: Callable[[object], object] | None = None
    loosened: str = ""  # what the loosened run does, for the button: "answers of 600 characters or more"

    def matches(self, reason: str) -> bool:
        return reason == self.reason or (self.reason.endswith("_") and reason.startswith(self.reason))


def warn(stats: Counter | None, message: str) -> None:
    """Note a run-level warning in a parser's ``stats`` (kept as ``stats.warnings``, a list)."""
    if stats is None:
        return
    warnings = getattr(stats, "warnings", None)
    if warnings is None:
        warnings = stats.warnings = []
    if message not in warnings:
        warnings.append(message)


def warnings_of(stats: Counter | None) -> list[str]:
    """The warnings a parser noted in ``stats`` (see :func:`warn`)."""
    return list(getattr(stats, "warnings", None) or [])
