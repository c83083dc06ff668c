"""wikiHow articles (CSV) -> "How to ...?" prompts with the article as a Markdown answer.

Two layouts, told apart by the header row:

- the WikiHow dataset's ``wikihowAll.csv``: ``headline,title,text``, one row per article. The
  ``headline`` holds the bold first sentence of every step ("\\nStep one.,\\nStep two."), the
  ``text`` the rest of every step, joined by commas (", "); the two are paired back into a
  numbered list when their counts agree, otherwise the text is kept as paragraphs. Titles may
  carry a trailing index ("How to Be an Organized Artist1").
- a scrape with one row per step: ``title,heading,paragraph``; the rows of one article are
  consecutive and every paragraph repeats its heading as its first sentence.

An optional ``category`` column becomes the record's domain (for LIMA's "pick one of 19
categories, then an article" sampling) and ``metadata["category"]``; neither layout above has one.

LIMA (see LIMA.md): prompt = the title as a question ("How to cook an omelette?"), response = the
article body; "This article…" becomes "The following answer…"; links, images and some sections
pruned. Here the title loses its suffixes (" - wikiHow", ": 13 Steps (with Pictures)", any
subtitle after a colon), "N Ways to X" becomes "How to X", and title-case words are lowered
unless the body writes them capitalised mid-sentence (proper nouns such as "Amazon" stay).
The body loses citation debris ("[1] X Research source", "X Expert Source … Expert Interview. 21
April 2020.", "X Trustworthy Source … Go to source"), "Reader Poll … [Take Poll]" boxes, image
blobs, URLs and stray HTML tags.

The body is cleaned by ``curation.sources.cleaning.clean_markdown`` with the ``wikihow`` policy:
paragraphs, the numbered steps and headings stay; bold and italics become their text; links become
their text and URLs go, with the sentences that only pointed at them.

Rejected records (still yielded, with the text, so a person can rescue one), see ``RULES``:
``title_not_how_to`` (LIMA's 200 wikiHow prompts all start "How to"), ``empty_response``,
``duplicate_article`` (a title seen earlier in the file).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from curation.sources import limits
from curation.sources.cleaning import clean_markdown, policy_named
from curation.sources.plugins import SourceKind, register
from curation.sources.records import Record, Rule, SourceFormatError

LICENCE = "CC BY-NC-SA 3.0"
STEP_COLUMNS = ("title", "heading", "paragraph")
ARTICLE_COLUMNS = ("headline", "title", "text")
CATEGORY_COLUMN = "category"

RULES = (
    Rule("title_not_how_to", 'The title does not read as "How to ..." (LIMA\'s 200 wikiHow prompts all do).',
         "how_to_only", lambda value: False, 'titles that are not "How to" kept'),
    Rule("empty_response", "Nothing is left of the article once cleaned."),
    Rule("duplicate_article", "A title seen earlier in the file.",
         "skip_duplicates", lambda value: False, "repeated titles kept"),
)


def iter_records(
    path,
    *,
    how_to_only: bool = True,
    skip_duplicates: bool = True,
    markdown_policy: str = "wikihow",
    seed: int = 0,
    stats: Counter | None = None,
) -> Iterator[Record]:
    """Yield one Record per article of a wikiHow CSV, accepted or rejected.

    Streams the file row by row; only the rows of the current article and the ids of the
    articles already seen (to report duplicates) are held. ``how_to_only`` / ``skip_duplicates``
    False keep the titles that are not "How to ..." / seen before as candidates; the body is
    cleaned with ``markdown_policy`` (``cleaning.POLICIES``). ``stats`` counts the articles and
    rows read. ``seed`` is accepted for a uniform interface; nothing here is random (category
    sampling happens later, on the records).
    """
    del seed
    policy = policy_named(markdown_policy)
    stats = Counter() if stats is None else stats
    path = Path(path)
    # wikihowAll.csv articles run to hundreds of kB in one field, over csv's 128 kB default.
    max_record = limits.current().max_record_bytes
    csv.field_size_limit(max_record)
    seen: set[str] = set()
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(_bounded_lines(path, f, max_record), strict=True)
        try:
            header = [name.strip().lower() for name in next(reader, [])]
            if set(STEP_COLUMNS) <= set(header):
                articles = _step_articles(path, reader, header)
                layout = "steps"
            elif set(ARTICLE_COLUMNS) <= set(header):
                articles = _whole_articles(path, reader, header)
                layout = "articles"
            else:
                raise SourceFormatError(
                    path,
                    "line 1",
                    "not a wikiHow CSV: expected the columns "
                    f"{','.join(STEP_COLUMNS)} (one row per step) or "
                    f"{','.join(ARTICLE_COLUMNS)} (wikihowAll.csv); found: "
                    f"{limits.shown_names(header, 'column', ',') if header else 'no header row'}",
                )
            for article in articles:
                stats["articles"] += 1
                record = _record(path, article, layout, policy, how_to_only)
                if record.external_id in seen and skip_duplicates and record.reject_reason is None:
                    record.reject_reason = "duplicate_article"
                seen.add(record.external_id)
                yield record
            stats["rows"] += max(reader.line_num - 1, 0)
        except csv.Error as error:
            if "field larger than field limit" in str(error):
                raise limits.record_too_large(path, f"line {reader.line_num}", max_record) from None
            raise SourceFormatError(path, f"line {reader.line_num}", f"bad CSV: {error}") from None
        except UnicodeDecodeError as error:
            raise SourceFormatError(
                path, f"after line {reader.line_num}", f"not UTF-8 text: {error.reason}"
            ) from None


def _bounded_lines(path: Path, f, max_record: int) -> Iterator[str]:
    """The file's lines for csv.reader, none longer than IMPORT_MAX_RECORD_BYTES (a file with no line end would
    otherwise be read whole)."""
    number = 0
    while line := f.readline(max_record + 1):
        number += 1
        if len(line) > max_record and not line.endswith("\n"):
            raise limits.record_too_large(path, f"line {number}", max_record)
        yield line


# --- Reading the two layouts -------------------------------------------------------------------


class _Article:
    __slots__ = ("title", "category", "intro", "steps", "aligned", "line")

    def __init__(self, title: str, category: str, line: int):
        self.title = title
        self.category = category
        self.intro: list[str] = []
        self.steps: list[str] = []
        self.aligned = True
        self.line = line


def _rows(path: Path, reader, header: list[str]) -> Iterator[tuple[int, dict]]:
    """Rows as {column: value} with the line each starts on; blank rows skipped."""
    while True:
        line = reader.line_num + 1
        row = next(reader, None)
        if row is None:
            return
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise SourceFormatError(
                path, f"line {line}", f"row has {len(row)} fields, the header {len(header)}"
            )
        yield line, {
            name: value.replace("\r\n", "\n").replace("\r", "\n")
            for name, value in zip(header, row)
        }


def _step_articles(path: Path, reader, header: list[str]) -> Iterator[_Article]:
    article = None
    previous = None
    for line, row in _rows(path, reader, header):
        title = row["title"].strip()
        if article is None or title != article.title:
            if article is not None:
                yield article
            article = _Article(title, row.get(CATEGORY_COLUMN, "").strip(), line)
            previous = None
        heading = _clean_inline(row["heading"])
        paragraph = _clean_inline(row["paragraph"])
        if (heading, paragraph) == previous:
            continue  # the same step scraped twice
        previous = (heading, paragraph)
        if not heading:
            # Before the first step it is the introduction; after, one more step.
            (article.steps if article.steps else article.intro).append(paragraph)
            continue
        # Every paragraph starts with its own heading: keep it once.
        if _same_text(paragraph[: len(heading)], heading):
            paragraph = paragraph[len(heading) :].strip()
        article.steps.append(f"{heading} {paragraph}".strip())
    if article is not None:
        yield article


# Between two steps of wikihowAll's `text`: a comma after the end of a paragraph, then the next
# one ("…tidying.\n\n, As visual people…", "…pigment, etc., Simply…"). "e.g.," and "i.e.," never
# end a paragraph.
_STEP_SEPARATOR = re.compile(
    r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<=[.!?;:\"')\]\n])\s*,\s+(?=[A-Z0-9\"'(\[])"
)


def _whole_articles(path: Path, reader, header: list[str]) -> Iterator[_Article]:
    for line, row in _rows(path, reader, header):
        # wikihowAll numbers the methods of one article as separate rows: "…Artist1".
        title = re.sub(r"(?<=[A-Za-z)])\d+$", "", row["title"].strip())
        article = _Article(title, row.get(CATEGORY_COLUMN, "").strip(), line)
        headlines = [h.strip().rstrip(",").strip() for h in row["headline"].split("\n")]
        headlines = [_clean_inline(h) for h in headlines if h]
        text = row["text"].strip()
        paragraphs = (
            [p.strip().rstrip(";").strip() for p in _STEP_SEPARATOR.split(text)] if text else []
        )
        paragraphs = [p for p in paragraphs if p]
        if headlines and len(headlines) == len(paragraphs):
            article.steps = [
                _join_step(_clean_inline(h), _clean_block(p)) for h, p in zip(headlines, paragraphs)
            ]
        else:
            article.aligned = False
            article.intro = [_clean_block(p) for p in paragraphs]
        yield article


# --- Building the record -----------------------------------------------------------------------


def _record(path: Path, article: _Article, layout: str, policy=None, how_to_only: bool = True) -> Record:
    body = _render_body(article, policy)
    question = title_as_question(article.title, body)
    metadata = {
        "site": "wikihow",
        "title": article.title,
        "licence": LICENCE,
        "layout": layout,
        "steps": len(article.steps),
    }
    url = _article_url(article.title)
    if url:
        metadata["url"] = url
    if article.category:
        metadata["category"] = article.category
    if not article.aligned:
        metadata["steps_unaligned"] = True
    record = Record(
        external_id=_external_id(article.title),
        turns=[question or _strip_title_suffixes(article.title), body],
        domain=article.category,
        metadata=metadata,
        location=f"{path.name} line {article.line}",
    )
    if question is None and how_to_only:
        record.reject_reason = "title_not_how_to"
    elif not body:
        record.reject_reason = "empty_response"
    return record


def _render_body(article: _Article, policy=None) -> str:
    parts = [p for p in article.intro if p]
    steps = [s for s in article.steps if s]
    if steps:
        parts.append("\n".join(_list_item(n, step) for n, step in enumerate(steps, start=1)))
    return _this_article_to_following_answer(clean_markdown("\n\n".join(parts), policy or "wikihow"))


def _list_item(number: int, step: str) -> str:
    # Continuation lines are indented under the item's text so they stay in the list.
    first, *rest = step.split("\n")
    indent = " " * (len(str(number)) + 2)
    lines = [f"{number}. {first}"] + [f"{indent}{line}" if line else "" for line in rest]
    return "\n".join(lines)


def _join_step(headline: str, paragraph: str) -> str:
    if not headline:
        return paragraph
    return f"{headline} {paragraph}".strip() if paragraph else headline


# --- Titles -----------------------------------------------------------------------------------

_TITLE_SUFFIXES = (
    re.compile(r"\s+[-–|]\s+wikiHow\s*$", re.I),
    re.compile(r"\s*\(with Pictures\)\s*$", re.I),
    re.compile(r"\s+in\s+\d+\+?\s+(?:[\w&-]+\s+){0,4}(?:Steps|Ways|Tips|Methods)\s*$", re.I),
)
_WAYS_TO = re.compile(
    r"^(?:\d+\+?\s+)?(?:[\w&-]+\s+){0,2}?(?:Ways|Steps|Tips|Methods)\s+to\s+", re.I
)
_WORD = re.compile(r"\b[^\W\d_]+\b")
# Abbreviated titles keep their capital: "Dr. Atkins".
_KEEP_CAPITAL = {"Dr", "Mr", "Mrs", "Ms", "St", "I"}


def _strip_title_suffixes(title: str) -> str:
    title = " ".join(title.split())
    changed = True
    while changed:
        changed = False
        for pattern in _TITLE_SUFFIXES:
            shorter = pattern.sub("", title)
            changed = changed or shorter != title
            title = shorter
    return title


def title_as_question(title: str, body: str = "") -> str | None:
    """ "How to Cook an Omelette: 8 Steps - wikiHow" -> "How to cook an omelette?".

    Returns None when the title does not read as "How to ..." even after turning "3 Ways to X"
    into "How to X". ``body`` lets proper nouns keep their capital: a word the body writes
    capitalised in mid-sentence, and never in lower case, is a name.
    """
    title = _strip_title_suffixes(title)
    title = _WAYS_TO.sub("How to ", title)
    if not re.match(r"how to\s", title, re.I):
        return None
    # A subtitle after a colon ("…: A Quick & Easy Guide", "…: 14 Steps") is not the question.
    title = title.split(": ")[0].strip()
    rest = title[len("how to ") :]
    rest = _WORD.sub(lambda m: _sentence_case(m.group(0), body), rest)
    question = "How to " + rest.strip().rstrip(".!?:;,")
    return question + "?"


def _sentence_case(word: str, body: str) -> str:
    # Only Title-case words are lowered: "CPR", "iPad" and "McDonald" are written that way.
    title_case = word == "A" or (word[0].isupper() and word[1:].islower())
    if not title_case or word in _KEEP_CAPITAL or _is_name(word, body):
        return word
    return word.lower()


def _is_name(word: str, body: str) -> bool:
    if word == "A" or not body or re.search(rf"\b{word.lower()}\b", body):
        return False
    for match in re.finditer(rf"\b{word}\b", body):
        before = body[: match.start()].rstrip(" \t")
        # At the start of the text, a line, a sentence or a list item the capital proves nothing.
        if before and before[-1] not in ".!?:\n*" and not re.search(r"(^|\n)\s*\d+\.$", before):
            return True
    return False


def _article_url(title: str) -> str:
    # wikiHow's canonical URL is the "How to" title with hyphens: "How to Cook Rice" -> /Cook-Rice.
    title = _WAYS_TO.sub("How to ", _strip_title_suffixes(title)).split(": ")[0]
    if not re.match(r"how to\s", title, re.I):
        return ""
    slug = re.sub(r"\s+", "-", title[len("how to ") :].strip())
    return f"https://www.wikihow.com/{slug}"


def _external_id(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:120]
    # The hash keeps two titles that differ only in punctuation apart.
    return f"{slug}-{hashlib.sha1(title.encode('utf-8')).hexdigest()[:8]}"


# --- Cleaning text --------------------------------------------------------------------------

# wikiHow's footnotes as the scrape flattened them: "[3] X Research source". Each pattern starts
# with a literal so the search is fast; the "[3]" markers go last.
_CITATIONS = (
    re.compile(
        r"X Expert Source\b.{0,300}?Expert Interview\.?"
        r"(?:\s*\d{1,2} [A-Z][a-z]+ \d{4}\.?)?"  # "… Expert Interview. 21 April 2020."
    ),
    re.compile(r"X Trustworthy Source\b.{0,300}?Go to source"),
    re.compile(r"X Research source(?:\s+Go to source)?"),
    re.compile(r"\[\d+\]"),
)
_READER_POLL = re.compile(r"Reader Poll:.*?\[Take Poll\]", re.S)
# Image data the scrape left inline:
# {"smallUrl":"https:\/\/www.wikihow.com\/images…","licensing":"<div…<\/div>"}
_IMAGE_BLOB = re.compile(r'\{"(?:smallUrl|bigUrl)":.*?"\}', re.S)
# A URL with whatever is glued to its front ("hhttps://…", "(http://…"), or cut short ("https:/").
_URL = re.compile(r"(?<!\S)\S*?(?:https?|ftp):/+\S*", re.I)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[.,;:!?](?:\s|$))")


def _clean_inline(text: str) -> str:
    text = _IMAGE_BLOB.sub(" ", text)
    text = _READER_POLL.sub(" ", text)
    for pattern in _CITATIONS:
        text = pattern.sub(" ", text)
    text = _URL.sub(" ", text)
    # Only stray inline tags reach here (<i>title</i> in a citation); the scrape is plain text.
    text = _TAG.sub("", text)
    text = re.sub(r"[ \t]+", " ", text)
    return _SPACE_BEFORE_PUNCT.sub("", text).strip()


def _clean_block(text: str) -> str:
    """A wikihowAll step body: lines after one ending in ":" are a list, others paragraphs."""
    lines = [_clean_inline(line) for line in text.split("\n")]
    lines = [line for line in lines if line]
    out: list[str] = []
    in_list = False
    for line in lines:
        if in_list:
            out.append(f"* {line}")
        else:
            out.append(("\n" if out else "") + line)
        in_list = in_list or line.endswith(":")
    return "\n".join(out)


def _this_article_to_following_answer(text: str) -> str:
    text = re.sub(r"\bThis (?:wikiHow article|wikiHow|article)\b", "The following answer", text)
    return re.sub(r"\bthis (?:wikiHow article|wikiHow|article)\b", "the following answer", text)


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).lower() == " ".join(b.split()).lower()


# LIMA.md: 200 articles, "first draw one of 19 categories, then an article in it" (uniform).
SOURCE = register(SourceKind(
    kind="wikihow", label="wikiHow", parser=__name__, targets=200, tau=None, within="random",
    licence="CC BY-NC-SA 3.0", url="https://www.wikihow.com", fixed_name="wikiHow", order=20,
    buckets={"wikihow": ("wikiHow", 30)},
))
