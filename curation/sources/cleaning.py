"""Markdown clean-up shared by every source: HTML -> Markdown, Markdown clean-up, the prose/code split.

Public functions (all pure, no Django):

- ``html_to_markdown(html) -> str``: LIMA's clean-up of an HTML body. Links become their text
  (URLs go), images and other HTML go, code blocks stay as fenced code and lists as Markdown
  lists; HTML entities are decoded exactly once, so code comes out as the author wrote it.
- ``clean_markdown(text) -> str``: the same clean-up for text that is already Markdown or plain
  text (wikiHow, Reddit, JSONL): CRLF -> LF, links/images/bare URLs removed outside code, blank
  lines collapsed, trailing spaces trimmed.
- ``prose_text(markdown) -> str``: the prose of a Markdown text, with code blocks, inline code and
  maths blanked out; what the first-person and reference rules (``filters``) and the style lint read.
"""

from __future__ import annotations

import re
from functools import lru_cache

from html_to_markdown import ConversionOptions
from html_to_markdown import convert as convert_html

# --- HTML -> Markdown -------------------------------------------------------------------------

# html-to-markdown (a Rust converter) rather than markdownify: the ingest cleans every answer that
# passes the score rule, and markdownify's BeautifulSoup tree costs ~3 ms a body against ~0.1 ms.
_HTML_OPTIONS = ConversionOptions(
    heading_style="atx",
    bullets="-",
    code_block_style="backticks",
    # The streaming converter: half the time of the DOM one, and the same output on the real
    # dumps but for whitespace; it keeps links whatever strip_tags says (clean_markdown then
    # removes them).
    tier_strategy="tier1",
    # Links keep their text, URLs go; embedded media keep only their fallback text.
    strip_tags=["a", "iframe", "video", "audio", "object", "embed"],
    skip_images=True,
    autolinks=False,
    extract_metadata=False,
    include_blockquote_citations=False,
    expand_abbreviations=False,
)
try:
    # The public convert() turns the options dataclass into the native type on every call
    # (~50 us, half the conversion): build the native options once and call the native function.
    from html_to_markdown import _html_to_markdown as _native
    from html_to_markdown.api import _to_rust_conversion_options

    _NATIVE_OPTIONS = _to_rust_conversion_options(_HTML_OPTIONS)

    def _convert(html: str) -> str:
        return _native.convert(html=html, options=_NATIVE_OPTIONS, visitor=None).content

except (ImportError, AttributeError):  # pragma: no cover - a later release may move them

    def _convert(html: str) -> str:
        return convert_html(html, _HTML_OPTIONS).content

# A URL in prose; its last character is not sentence punctuation ("see https://x.org.").
# (No re.I: a case-insensitive alternation makes the engine try every position, 5x slower.)
URL = re.compile(
    r"""(?:https?://|ftp://|www\.|HTTPS?://|WWW\.)[^\s<>"'()\[\]]*[^\s<>"'()\[\].,;:!?]"""
)


def html_to_markdown(html: str) -> str:
    """Convert a Stack Exchange-style HTML body to LIMA-clean Markdown.

    The input is HTML as the XML parser returns it (still holding ``&quot;``, ``&amp;``,
    ``&lt;`` ...); the HTML parser decodes those entities exactly once, so code comes out as the
    author wrote it. ``<pre class="lang-py">`` becomes a fence with that language."""
    if not html or not html.strip():
        return ""
    return clean_markdown(_convert(html))


# --- Markdown clean-up ------------------------------------------------------------------------

# A link's destination may hold one level of brackets: (https://en.wikipedia.org/wiki/A_(b)).
MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\((?:[^()\n]|\([^()\n]*\))*\)")
MD_LINK = re.compile(r"\[([^\]\n]+)\]\((?:[^()\n]|\([^()\n]*\))*\)")
_MD_REF_DEF = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*\S+.*$", re.M)
MD_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto):[^>\s]+>", re.I)
_SPACES = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
# What a removed URL leaves behind: "(see )" -> "", "[ ]" -> "".
_EMPTY_BRACKETS = re.compile(
    r"[(\[](?<![\w)\]].)(?:(?<=\()(?:see|at|here|source)?:?\s*\)|(?<=\[)\s*\])", re.I
)
_FENCE = re.compile(r" *(`{3,}|~{3,})")
_FENCE_LINE = re.compile(r"^ *(`{3,}|~{3,})[^\n]*$", re.M)
_LIST_ITEM = re.compile(r" {0,3}(?:[*+-]|\d{1,9}[.)])(?:[ \t]|$)")
_TRAILING_SPACES = re.compile(r"[ \t]+(?=\n)")
_BLANK_LINES = re.compile(r"\n{3,}")


@lru_cache(maxsize=1)
def _block_parser():
    from markdown_it import MarkdownIt  # here: ~40 ms to load, and imports rarely need it

    return MarkdownIt("commonmark")


def _may_hold_indented_code(lines: list[str]) -> bool:
    """An indented line after a blank line, outside a list, may start an indented code block."""
    in_list = False
    after_blank = True
    in_fence = ""
    for line in lines:
        if in_fence:
            if line.strip().startswith(in_fence) and not line.strip().strip(in_fence[0]):
                in_fence = ""
            continue
        opening = _FENCE.match(line)
        if opening:
            in_fence = opening.group(1)
        elif not line.strip():
            after_blank = True
            continue
        elif _LIST_ITEM.match(line):
            in_list = True
        elif line.startswith(("    ", "\t")):
            if after_blank and not in_list:
                return True
        elif after_blank:
            in_list = False  # an unindented paragraph after a blank line ends a list
        after_blank = False
    return False


@lru_cache(maxsize=16)
def _closing_fence(fence: str) -> re.Pattern:
    return re.compile(rf"^ *{re.escape(fence[0])}{{{len(fence)},}} *$", re.M)


def _code_blocks(markdown: str) -> list[tuple[int, int]]:
    """Character ranges [start, end) of the code blocks of a Markdown text, with their last
    newline.

    Fenced blocks are found with a regex; only a text that may hold an indented code block is
    handed to markdown-it, which is ~10x slower but knows all of CommonMark's rules."""
    blocks = []
    if "```" in markdown or "~~~" in markdown:
        position = 0
        while opening := _FENCE_LINE.search(markdown, position):
            closing = _closing_fence(opening.group(1)).search(markdown, opening.end())
            end = closing.end() if closing else len(markdown)
            if markdown.startswith("\n", end):
                end += 1
            blocks.append((opening.start(), end))
            position = end
    gaps, position = [], 0
    for start, end in blocks:
        gaps.append(markdown[position:start])
        position = end
    outside = "".join(gaps) + markdown[position:]
    if "\n    " in outside or "\n\t" in outside or outside.startswith(("    ", "\t")):
        lines = markdown.split("\n")
        if _may_hold_indented_code(lines):
            starts = [0]
            for line in lines:
                starts.append(starts[-1] + len(line) + 1)
            return [
                (starts[t.map[0]], min(starts[t.map[1]], len(markdown)))
                for t in _block_parser().parse(markdown)
                if t.type in ("fence", "code_block") and t.map
            ]
    return blocks


# Maths as Stack Exchange's MathJax writes it: $$..$$, $..$, \[..\], \(..\); not an escaped \$.
# (It starts with a character class so that the regex engine skips ahead quickly.)
_MATHS = re.compile(
    r"[$\\](?<!\\\$)(?:(?<=\$)\$.+?\$\$|(?<=\$)(?!\s)[^$\n]+?(?<![\s\\])\$"
    r"|(?<=\\)\[.+?\\\]|(?<=\\)\(.+?\\\))",
    re.S,
)


def _code_spans(text: str) -> list[tuple[int, int]]:
    """Inline code spans: a run of n backticks closed by the next run of exactly n (CommonMark);
    an opening run never closed is plain text."""
    spans = []
    position, size = 0, len(text)
    while (start := text.find("`", position)) >= 0:
        opened = start
        while opened < size and text[opened] == "`":
            opened += 1
        length = opened - start
        search = opened
        close = -1
        while (candidate := text.find("`", search)) >= 0:
            end = candidate
            while end < size and text[end] == "`":
                end += 1
            if end - candidate == length:
                close = candidate
                break
            search = end
        if close < 0:
            position = opened
            continue
        spans.append((start, close + length))
        position = close + length
    return spans


@lru_cache(maxsize=16)
def _segments(markdown: str) -> tuple[tuple[bool, str], ...]:
    """Split Markdown into (is_prose, text) pieces: code blocks, inline code and maths are not
    prose. Joining every piece gives back the input exactly."""
    pieces: list[tuple[bool, str]] = []
    position = 0
    for start, end in _code_blocks(markdown):
        if start > position:
            pieces.extend(_split_inline(markdown[position:start]))
        pieces.append((False, markdown[start:end]))
        position = end
    if position < len(markdown):
        pieces.extend(_split_inline(markdown[position:]))
    return tuple(pieces)


def _split_inline(text: str) -> list[tuple[bool, str]]:
    if "`" not in text and "$" not in text and "\\" not in text:
        return [(True, text)]
    pieces: list[tuple[bool, str]] = []
    position = 0
    spans = _code_spans(text) if "`" in text else []
    if "$" in text or "\\" in text:
        spans = sorted(spans + [m.span() for m in _MATHS.finditer(text)])
    for start, end in spans:
        if start < position:  # maths inside code (or the reverse): already covered
            continue
        if start > position:
            pieces.append((True, text[position:start]))
        pieces.append((False, text[start:end]))
        position = end
    if position < len(text):
        pieces.append((True, text[position:]))
    return pieces


@lru_cache(maxsize=16)
def prose_text(markdown: str) -> str:
    """The prose of a Markdown text: code blocks, inline code and maths replaced by a space."""
    return "".join(text if is_prose else " " for is_prose, text in _segments(markdown))


def _cleanable(text: str) -> bool:
    """Whether _clean_prose may change anything in `text`: one of the markers its substitutions
    are guarded by. (A "(see )" left empty only goes when something else was removed.) Substring
    tests rather than one regex alternation, which tries every alternative at every position and
    was ~10x slower on the ingest's hot path."""
    return (
        ("]" in text and ("](" in text or "]:" in text)) or "<" in text or "://" in text or "www." in text
        or "WWW." in text or "  " in text or " \n" in text or "\t" in text or "\n\n\n" in text
    )


def _clean_prose(text: str) -> str:
    # Each substitution runs only where its marker is: this is on the ingest's hot path.
    length = len(text)
    if "](" in text:
        text = MD_IMAGE.sub("", text)
        text = MD_LINK.sub(r"\1", text)
    if "]:" in text:
        text = _MD_REF_DEF.sub("", text)
    if "<" in text:
        text = MD_AUTOLINK.sub("", text)
    if "://" in text or "www." in text or "WWW." in text:
        text = URL.sub("", text)
    if len(text) < length:  # something went: "(see )" may be left behind
        text = _EMPTY_BRACKETS.sub("", text)
    if "  " in text or "\t" in text or " \n" in text:
        text = _SPACES.sub(" ", text)
        text = _TRAILING_SPACES.sub("", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text


def clean_markdown(text: str) -> str:
    """Clean Markdown or plain text the way LIMA cleaned its sources: normalise line endings,
    remove links (their text stays), images and bare URLs outside code, collapse blank lines,
    trim trailing spaces (invisible hard breaks). Code is left exactly as it is."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not _cleanable(text):  # nothing to remove anywhere: no need to find the code
        return text.strip("\n").rstrip()
    text = "".join(
        _clean_prose(piece) if is_prose else piece for is_prose, piece in _segments(text)
    )
    return text.strip("\n").rstrip()
