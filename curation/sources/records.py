"""The plain record every source parser yields, and the error it raises on bad input.

Each source module (``curation.sources.<kind>``) exposes
``iter_records(path, **options) -> Iterator[Record]``: it streams the file in constant memory,
yields accepted *and* rejected records (a rejected one carries ``reject_reason`` so a person can
look at it later and rescue it), and raises :class:`SourceFormatError` on malformed input.
Options have LIMA's defaults; everything is deterministic given a ``seed``.
"""

from __future__ import annotations

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
