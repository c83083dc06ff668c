"""Pushshift Reddit dumps (RS_* submissions, RC_* comments) -> prompt/response candidates.

LIMA took the most-upvoted posts of r/WritingPrompts (150 train pairs) and r/AskReddit (70 test
prompts, titles only) and chose them by hand, because top answers are often jokes or trolling.
So everything accepted here is only a *candidate* for a person to choose.

Input: one path, a folder, or a list of paths, each a plain NDJSON or a zstd file (detected by its
magic number, decompressed with a 2 GiB window, streamed line by line). Each line is detected on
its own: a submission has a "title", a comment a "body". Submissions and comments may come in any
order and in any file; a submission is paired with its highest-scored top-level comment
(``parent_id == "t3_<submission id>"``), so records are yielded after every file has been read.
The state kept is compact: the wanted subreddits' submissions (title and attribution only) and, per
submission, the best usable comment seen so far. Comments of other subreddits are never kept.

Rules, per submission (the first that applies is the reason):
  submission_deleted / submission_removed   selftext "[deleted]" / "[removed]"
  empty_title                               nothing left of the title once tags are removed
  submission_score_below_<n>                score < ``min_score``
  and for pair subreddits (not ``prompt_only_subreddits``), on the best top-level comment:
  no_top_level_comment                      no top-level comment at all in the files read
  comment_deleted / comment_removed / comment_empty
                                            only unusable top-level comments (the highest-scored
                                            one's reason); bots and stickied comments don't count
  comment_score_below_<n>                   best usable comment's score < ``min_comment_score``

The prompt is the title (LIMA used titles), with leading prompt tags such as "[WP]" removed; the
response is the comment's Markdown. Reddit escapes ``&amp; &lt; &gt;`` in titles and bodies; they
are decoded exactly once, so "&amp;lt;" stays "&lt;" as the author typed it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from curation.sources._lines import iter_json_lines
from curation.sources.records import Record, SourceFormatError

DEFAULT_SUBREDDITS = ("WritingPrompts", "AskReddit")
# r/AskReddit titles are LIMA's 70 test prompts: prompt-only, test split.
PROMPT_ONLY_SUBREDDITS = ("AskReddit",)
# Not a number from the paper (LIMA picked by hand among the most upvoted posts): a floor that
# keeps the candidate list short, in line with the answer-score rule LIMA used for Stack Exchange.
DEFAULT_MIN_SCORE = 10
DEFAULT_MIN_COMMENT_SCORE = 10

# Tags r/WritingPrompts puts in front of a title ([WP] writing prompt, [SP] simple prompt, ...).
_PROMPT_TAG = re.compile(
    r"^\s*(?:[\[(]\s*(WP|SP|EU|CW|TT|RF|FF|MP|IP|PM|PI)\s*[\])]\s*[:\-]?\s*)+", re.I
)
_REDDIT_ESCAPES = re.compile(r"&(amp|lt|gt);")
_UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}
_GONE_BODIES = {"[deleted]": "deleted", "[removed]": "removed"}
_BOTS = {"automoderator"}


def iter_records(
    path,
    *,
    subreddits: Iterable[str] | str = DEFAULT_SUBREDDITS,
    prompt_only_subreddits: Iterable[str] | str = PROMPT_ONLY_SUBREDDITS,
    min_score: int = DEFAULT_MIN_SCORE,
    min_comment_score: int = DEFAULT_MIN_COMMENT_SCORE,
    seed: int = 0,
) -> Iterator[Record]:
    """Yield one Record per submission of the wanted subreddits, accepted or rejected.

    ``path``: a file, a folder (every non-hidden file in it, sorted by name) or a list of those.
    ``subreddits``: names with or without "r/", case-insensitive, as a list or a comma-separated
    string. A subreddit listed in ``prompt_only_subreddits`` yields prompt-only records on the
    test split (it must also be listed in ``subreddits`` to be read at all). ``seed`` is
    accepted for a uniform interface; nothing here is random.
    """
    del seed
    wanted = {_subreddit_key(name) for name in _names(subreddits)}
    prompt_only = {_subreddit_key(name) for name in _names(prompt_only_subreddits)} & wanted
    submissions: dict[str, _Submission] = {}
    best_comments: dict[str, _Comment] = {}
    unusable_comments: dict[str, _Comment] = {}

    for file in _input_files(path):
        for number, obj in iter_json_lines(file):
            if not isinstance(obj, dict):
                raise SourceFormatError(file, f"line {number}", "expected a JSON object")
            # Most lines of a monthly dump belong to other subreddits: decide on them first.
            key = _subreddit_key(str(obj.get("subreddit") or ""))
            if "title" in obj:
                if key not in wanted:
                    continue
                submission = _read_submission(obj, file, number, f"{file.name} line {number}")
                if submission.id not in submissions:
                    submission.prompt_only = key in prompt_only
                    submissions[submission.id] = submission
            elif "body" in obj:
                if not str(obj.get("parent_id", "")).startswith("t3_"):
                    continue  # a reply, not a top-level comment
                # A comment without a subreddit is kept: its submission may still be wanted.
                if obj.get("subreddit") is not None and (key not in wanted or key in prompt_only):
                    continue
                comment = _read_comment(obj, file, number)
                if comment is not None:
                    _keep_if_better(comment, best_comments, unusable_comments)
            else:
                raise SourceFormatError(
                    file,
                    f"line {number}",
                    "neither a submission (no 'title') nor a comment (no 'body')",
                )

    for submission in submissions.values():
        yield _record(
            submission,
            best_comments.get(submission.id),
            unusable_comments.get(submission.id),
            min_score=min_score,
            min_comment_score=min_comment_score,
        )


@dataclass(slots=True)
class _Submission:
    id: str
    subreddit: str
    title: str
    tags: list[str]
    gone: str | None  # "deleted" / "removed" when the post itself is gone
    score: int
    author: str
    created_utc: int | None
    permalink: str
    location: str
    prompt_only: bool = False


@dataclass(slots=True)
class _Comment:
    id: str
    link_id: str
    body: str
    gone: str | None  # "deleted" / "removed" / "empty"
    score: int
    author: str
    created_utc: int | None
    edited: bool
    edited_utc: int | None
    permalink: str

    def rank(self) -> tuple:
        # Highest score first; ties go to the earliest comment, then the lowest id, so the choice
        # does not depend on the order of the files.
        return (-self.score, self.created_utc or 0, _base36(self.id))


def _record(submission, comment, unusable, *, min_score, min_comment_score) -> Record:
    metadata = {
        "site": "reddit",
        "subreddit": submission.subreddit,
        "submission_id": submission.id,
        "url": submission.permalink,
        "author": submission.author,
        "score": submission.score,
        "created_utc": submission.created_utc,
    }
    if submission.tags:
        metadata["tags"] = submission.tags
    record = Record(
        external_id=f"t3_{submission.id}",
        turns=[submission.title],
        domain=submission.subreddit,
        metadata=metadata,
        location=submission.location,
    )
    if submission.gone:
        record.reject_reason = f"submission_{submission.gone}"
    elif not submission.title:
        record.reject_reason = "empty_title"
    elif submission.score < min_score:
        record.reject_reason = f"submission_score_below_{min_score}"
    if submission.prompt_only:
        record.split = "test"
        return record

    chosen = comment or unusable
    if chosen is not None:
        metadata.update(
            comment_id=chosen.id,
            comment_url=chosen.permalink,
            comment_author=chosen.author,
            comment_score=chosen.score,
            comment_created_utc=chosen.created_utc,
            edited=chosen.edited,
            edited_utc=chosen.edited_utc,
        )
    if comment is not None:
        record.turns.append(comment.body)
    if record.reject_reason:
        return record
    if chosen is None:
        record.reject_reason = "no_top_level_comment"
    elif comment is None:
        record.reject_reason = f"comment_{unusable.gone}"
    elif comment.score < min_comment_score:
        record.reject_reason = f"comment_score_below_{min_comment_score}"
    return record


def _keep_if_better(comment: _Comment, best: dict, unusable: dict) -> None:
    table = unusable if comment.gone else best
    current = table.get(comment.link_id)
    if current is None or comment.rank() < current.rank():
        table[comment.link_id] = comment


def _read_submission(obj: dict, file: Path, number: int, location: str) -> _Submission:
    submission_id = _id(obj, "t3_")
    if not submission_id:
        raise SourceFormatError(file, f"line {number}", "submission without an 'id'")
    subreddit = str(obj.get("subreddit") or "")
    title = _unescape(str(obj.get("title") or "")).strip()
    tags = []
    while match := _PROMPT_TAG.match(title):
        tags.extend(tag.upper() for tag in re.findall(r"[A-Za-z]{2}", match.group(0)))
        title = title[match.end() :]
    selftext = str(obj.get("selftext") or "").strip()
    permalink = str(obj.get("permalink") or f"/r/{subreddit}/comments/{submission_id}/")
    return _Submission(
        id=submission_id,
        subreddit=subreddit,
        title=title.strip(),
        tags=tags,
        gone=_GONE_BODIES.get(selftext),
        score=_int(obj.get("score")) or 0,
        author=str(obj.get("author") or ""),
        created_utc=_int(obj.get("created_utc")),
        permalink=_absolute_url(permalink),
        location=location,
    )


def _read_comment(obj: dict, file: Path, number: int) -> _Comment | None:
    author = str(obj.get("author") or "")
    # r/WritingPrompts pins an AutoModerator reminder on top of every thread: not an answer.
    if author.lower() in _BOTS or obj.get("stickied") is True:
        return None
    comment_id = _id(obj, "t1_")
    if not comment_id:
        raise SourceFormatError(file, f"line {number}", "comment without an 'id'")
    link_id = str(obj.get("parent_id"))[3:]
    body = _unescape(str(obj.get("body") or "")).replace("\r\n", "\n").strip()
    gone = _GONE_BODIES.get(body) or (None if body else "empty")
    edited = obj.get("edited")
    # `edited` is false, true, or the edit's timestamp depending on the dump's age.
    edited_utc = _int(edited) if not isinstance(edited, bool) else None
    subreddit = str(obj.get("subreddit") or "")
    return _Comment(
        id=comment_id,
        link_id=link_id,
        body=body,
        gone=gone,
        score=_int(obj.get("score")) or 0,
        author=author,
        created_utc=_int(obj.get("created_utc")),
        edited=bool(edited),
        edited_utc=edited_utc,
        permalink=_absolute_url(
            str(obj.get("permalink") or f"/r/{subreddit}/comments/{link_id}/_/{comment_id}/")
        ),
    )


def _input_files(path) -> list[Path]:
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    files: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            files.extend(
                sorted(p for p in item.iterdir() if p.is_file() and not p.name.startswith("."))
            )
        elif item.is_file():
            files.append(item)
        else:
            raise SourceFormatError(item, "", "no such file or folder")
    return files


def _unescape(text: str) -> str:
    return _REDDIT_ESCAPES.sub(lambda m: _UNESCAPED[m.group(1)], text)


def _names(value) -> list[str]:
    # A command line or a form gives "WritingPrompts,AskReddit"; code gives a list.
    if isinstance(value, str):
        return [name for name in value.split(",") if name.strip()]
    return list(value)


def _subreddit_key(name: str) -> str:
    name = name.strip()
    for prefix in ("/r/", "r/"):
        if name.lower().startswith(prefix):
            name = name[len(prefix) :]
    return name.lower()


def _id(obj: dict, prefix: str) -> str:
    value = obj.get("id") or obj.get("name") or ""
    value = str(value)
    return value[len(prefix) :] if value.startswith(prefix) else value


def _int(value) -> int | None:
    # Scores and timestamps are ints, floats or numeric strings depending on the dump.
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _base36(value: str) -> int:
    try:
        return int(value, 36)
    except ValueError:
        return 0


def _absolute_url(permalink: str) -> str:
    return permalink if permalink.startswith("http") else f"https://www.reddit.com{permalink}"
