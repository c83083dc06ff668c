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
response is the comment's Markdown, cleaned by ``curation.sources.cleaning.clean_markdown`` with the
``reddit`` policy: links become their text, bare URLs and images go with the sentences that only
pointed at them, italics and bold stay (stories use them), headings and quotes become paragraphs,
trailing "Edit: thanks for the gold!" notes go. A comment that cleans to nothing is ``comment_empty``.
Reddit escapes ``&amp; &lt; &gt;`` in titles and bodies; they are decoded exactly once, so "&amp;lt;"
stays "&lt;" as the author typed it.

A folder is read whole, sub-folders included (hidden files and folders skipped). When no line of the
files belongs to the subreddits asked for, the import fails with ``NoRecordMatched``, naming the
subreddits the files do hold; when some matched but not all, or only their comments did (an RC_ file
without its RS_), a warning goes to ``stats`` (``records.warn``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from curation.sources._lines import iter_json_lines
from curation.sources.cleaning import clean_markdown, policy_named
from curation.sources.plugins import SourceKind, register
from curation.sources.records import Record, Rule, SourceFormatError, warn

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
_MAY_CLEAN_TO_NOTHING = re.compile(r"\]\(|://|www\.|&nbsp;|&#x200|\u200b")
# Distinct subreddit names counted for the "no record matched" message: enough to name the commonest,
# in memory that does not grow with a monthly dump's ~100,000 subreddits.
_SEEN_NAMES = 1000

RULES = (
    Rule("submission_deleted", "The submission was deleted by its author (its title may remain).",
         "skip_deleted_submissions", lambda value: False, "deleted and removed submissions kept"),
    Rule("submission_removed", "The submission was removed by the moderators (its title may remain).",
         "skip_deleted_submissions", lambda value: False, "deleted and removed submissions kept"),
    Rule("empty_title", "Nothing is left of the title once its prompt tags are removed."),
    Rule("submission_score_below_", "The submission scores below the minimum.",
         "min_score", lambda value: max(0, int(value) // 2), "submissions scoring half as much"),
    Rule("no_top_level_comment", "The submission has no top-level comment in the files read."),
    Rule("comment_deleted", "Its only top-level comments were deleted."),
    Rule("comment_removed", "Its only top-level comments were removed."),
    Rule("comment_empty", "Its best top-level comment is empty once cleaned."),
    Rule("comment_score_below_", "The best top-level comment scores below the minimum.",
         "min_comment_score", lambda value: max(0, int(value) // 2), "comments scoring half as much"),
)


class NoRecordMatched(SourceFormatError):
    """No line of the files belongs to the subreddits asked for: a typo, or the wrong month's file."""


def iter_records(
    path,
    *,
    subreddits: Iterable[str] | str = DEFAULT_SUBREDDITS,
    prompt_only_subreddits: Iterable[str] | str = PROMPT_ONLY_SUBREDDITS,
    min_score: int = DEFAULT_MIN_SCORE,
    min_comment_score: int = DEFAULT_MIN_COMMENT_SCORE,
    skip_deleted_submissions: bool = True,
    markdown_policy: str = "reddit",
    seed: int = 0,
    stats: Counter | None = None,
) -> Iterator[Record]:
    """Yield one Record per submission of the wanted subreddits, accepted or rejected.

    ``path``: a file, a folder (every non-hidden file under it, sub-folders included, sorted by
    path) or a list of those.
    ``subreddits``: names with or without "r/", case-insensitive, as a list or a comma-separated
    string. A subreddit listed in ``prompt_only_subreddits`` yields prompt-only records on the
    test split (it must also be listed in ``subreddits`` to be read at all).
    ``skip_deleted_submissions`` False keeps deleted and removed submissions (their titles) as
    candidates; ``markdown_policy`` is the clean-up of the responses (``cleaning.POLICIES``).
    ``stats`` is filled with lines / submissions / comments read and matched, and the warnings.
    ``seed`` is accepted for a uniform interface; nothing here is random.
    """
    del seed
    policy = policy_named(markdown_policy)
    stats = Counter() if stats is None else stats
    asked = {_subreddit_key(name): _display_name(name) for name in _names(subreddits)}
    wanted = set(asked)
    prompt_only = {_subreddit_key(name) for name in _names(prompt_only_subreddits)} & wanted
    submissions: dict[str, _Submission] = {}
    best_comments: dict[str, _Comment] = {}
    unusable_comments: dict[str, _Comment] = {}
    seen: Counter = Counter()  # subreddit name as written -> submissions seen (the first _SEEN_NAMES names)
    matched: Counter = Counter()  # wanted subreddit -> submissions read
    matched_comments: Counter = Counter()  # wanted subreddit -> top-level comments read

    files = _input_files(path)
    for file in files:
        for number, obj in iter_json_lines(file):
            if not isinstance(obj, dict):
                raise SourceFormatError(file, f"line {number}", "expected a JSON object")
            stats["lines"] += 1
            # Most lines of a monthly dump belong to other subreddits: decide on them first.
            name = str(obj.get("subreddit") or "")
            key = _subreddit_key(name)
            if "title" in obj:
                stats["submissions_read"] += 1
                if name in seen or len(seen) < _SEEN_NAMES:
                    seen[name] += 1
                if key not in wanted:
                    continue
                matched[key] += 1
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
                matched_comments[key] += 1
                comment = _read_comment(obj, file, number, policy)
                if comment is not None:
                    _keep_if_better(comment, best_comments, unusable_comments)
            else:
                raise SourceFormatError(
                    file,
                    f"line {number}",
                    "neither a submission (no 'title') nor a comment (no 'body')",
                )

    stats["submissions_matched"] += sum(matched.values())
    stats["comments_matched"] += sum(matched_comments.values())
    _check_matches(path, files, asked, matched, matched_comments, seen, stats)
    for submission in submissions.values():
        yield _record(
            submission,
            best_comments.get(submission.id),
            unusable_comments.get(submission.id),
            min_score=min_score,
            min_comment_score=min_comment_score,
            skip_deleted=skip_deleted_submissions,
            policy=policy,
        )


def _listed(names) -> str:
    names = [f"r/{name}" for name in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _check_matches(path, files, names, matched, matched_comments, seen, stats) -> None:
    """Fail when nothing matched the subreddits asked for, naming what the files hold; warn when some
    did not, or when only comments did. ``names``: key -> the name as asked."""
    asked = [names[key] for key in sorted(names)]
    if not matched and not any(matched_comments.get(key) for key in names):
        commonest = [(name, count) for name, count in seen.most_common(10) if name]
        held = (
            "the subreddits seen most: " + ", ".join(f"r/{name} ({count:,} submission{'s' if count != 1 else ''})" for name, count in commonest)
            if commonest else "no submission of any subreddit"
        )
        where = path if isinstance(path, (str, Path)) else (files[0] if len(files) == 1 else f"{len(files)} files")
        raise NoRecordMatched(
            where, "", f"no submission or comment of {_listed(asked)} in {len(files):,} file(s); {held}. "
            "Check the subreddits option (names without r/, any case).",
        )
    if not matched:
        comments = sum(matched_comments.values())
        warn(stats, (
            f"{comments:,} top-level comments of {_listed(asked)} were read but no submission: a record is made "
            "from a submission (its title), so add the RS_ file of the same month."
        ))
        return
    missing = [names[key] for key in sorted(names) if not matched.get(key)]
    if missing:
        warn(stats, f"no submission of {_listed(missing)} in these files (submissions of "
                    f"{_listed([names[key] for key in sorted(matched)])} were read).")


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


def _record(submission, comment, unusable, *, min_score, min_comment_score, skip_deleted=True, policy=None) -> Record:
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
    if submission.gone and skip_deleted:
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
    body = clean_markdown(comment.body, policy or "reddit") if comment is not None else ""
    if body:
        record.turns.append(body)
    if record.reject_reason:
        return record
    if chosen is None:
        record.reject_reason = "no_top_level_comment"
    elif comment is None:
        record.reject_reason = f"comment_{unusable.gone}"
    elif not body:
        record.reject_reason = "comment_empty"  # nothing left once links and images went
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


def _read_comment(obj: dict, file: Path, number: int, policy=None) -> _Comment | None:
    author = str(obj.get("author") or "")
    # r/WritingPrompts pins an AutoModerator reminder on top of every thread: not an answer.
    if author.lower() in _BOTS or obj.get("stickied") is True:
        return None
    comment_id = _id(obj, "t1_")
    if not comment_id:
        raise SourceFormatError(file, f"line {number}", "comment without an 'id'")
    link_id = str(obj.get("parent_id"))[3:]
    body = _unescape(str(obj.get("body") or "")).replace("\r\n", "\n").strip()
    if _MAY_CLEAN_TO_NOTHING.search(body):
        # A comment that is only a link or an image is no answer: the next best one is.
        body = clean_markdown(body, policy or "reddit")
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
            # Sub-folders too (a month per folder, a dump per year); hidden files and folders are not data.
            files.extend(sorted(
                p for p in item.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(item).parts)
            ))
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


def _display_name(name: str) -> str:
    name = name.strip()
    for prefix in ("/r/", "r/", "R/"):
        name = name.removeprefix(prefix)
    return name


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


# --- The plug-in ---------------------------------------------------------------------------------------------

def _default_name(path: Path, options: dict) -> str:
    """The subreddits read: "r/WritingPrompts, r/AskReddit"."""
    subreddits = options.get("subreddits") or DEFAULT_SUBREDDITS
    if isinstance(subreddits, str):
        subreddits = [subreddits]
    return ", ".join(f"r/{name.removeprefix('r/')}" for name in subreddits)


def _bucket(domain: str, metadata: dict, site_groups) -> str:
    subreddit = (domain or metadata.get("subreddit", "")).lower().removeprefix("r/")
    return {"writingprompts": "writingprompts", "askreddit": "askreddit"}.get(subreddit, "reddit_other")


# LIMA.md: chosen by hand among the most upvoted posts: every accepted one is a candidate.
SOURCE = register(SourceKind(
    kind="reddit", label="Reddit (Pushshift)", parser=__name__, targets=None, licence="Reddit user content",
    url="https://files.pushshift.io/reddit/", default_name=_default_name, bucket=_bucket, order=30,
    buckets={"writingprompts": ("r/WritingPrompts", 40), "askreddit": ("r/AskReddit", 70),
             "reddit_other": ("Reddit · other", 80)},
))
