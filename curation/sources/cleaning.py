"""Markdown clean-up shared by every source: HTML -> Markdown, one Markdown clean-up with a per-source
policy of what survives, the prose/code split.

Public functions (all pure, no Django):

- ``html_to_markdown(html, policy=STACKEXCHANGE) -> str``: an HTML body (Stack Exchange) converted to
  Markdown, then ``clean_markdown``. HTML entities are decoded exactly once, so code comes out as the
  author wrote it; superscripts and subscripts keep their meaning (``10^6``, ``x^2``, ``H_2O``).
- ``clean_markdown(text, policy=STACKEXCHANGE) -> str``: the clean-up of a Markdown (or plain) text,
  wherever it came from (Stack Exchange after conversion, wikiHow, Reddit). Code blocks, inline code
  and maths are never touched. What else survives is the policy's (``POLICIES``, one per source):
  links always become their text, bare URLs and images go, and a sentence that only pointed at a
  removed link goes with it ("Sourced from Wikipedia.", "Docs: <url>.", a "**More Information**"
  label over a list of links).
- ``prose_text(markdown) -> str``: the prose of a Markdown text, with code blocks, inline code and
  maths blanked out; what the first-person and reference rules (``filters``) and the style lint read.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import zip_longest

from html_to_markdown import ConversionOptions
from html_to_markdown import convert as convert_html

# --- Policies: what survives, per source -------------------------------------------------------


@dataclass(frozen=True)
class MarkdownPolicy:
    """What a source's Markdown keeps. Code blocks, inline code, maths, lists and paragraphs always
    stay; links always become their text (LIMA.md: "Strip links, images and other HTML")."""

    name: str
    headings: bool = False  # "## Title" stays; else its text stays, as a paragraph of its own
    emphasis: bool = False  # **bold**, *italics* stay; else their text stays (~~struck~~ text goes)
    quotes: bool = False  # "> quoted" stays; else its text stays, as paragraphs
    tables: bool = False  # tables stay; else each row becomes a list item ("- Name: a; Value: 1")
    rules: bool = False  # horizontal rules (---) stay
    urls: bool = False  # bare URLs stay (NI tasks can be about URLs); images and links never do
    link_orphans: bool = False  # sentences that only pointed at a removed link stay
    edit_notes: bool = True  # Reddit's trailing "Edit: thanks for the gold!" paragraphs stay
    markdown: bool = True  # False: plain text, left as written (line endings normalised)


# LIMA.md (Stack Exchange): "Strip links, images and other HTML; keep only code blocks and lists."
STACKEXCHANGE = MarkdownPolicy("stackexchange")
# LIMA's 200 wikiHow answers (train_1k_fastchat.json 600-799) all have "## ..." section headings and
# numbered steps, and no bold; "prune links, images and some sections" (LIMA.md).
WIKIHOW = MarkdownPolicy("wikihow", headings=True)
# r/WritingPrompts responses are stories: italics carry voice and thoughts (LIMA's stories keep them);
# headings, quotes (often the prompt quoted back) and edit notes are not the story.
REDDIT = MarkdownPolicy("reddit", emphasis=True, edit_notes=False)
# Super-NaturalInstructions texts are plain text, where * _ # | > and even spaces are literal (some
# tasks are about URLs, spacing or punctuation): they stay as written, but for their line endings.
NATURAL_INSTRUCTIONS = MarkdownPolicy(
    "natural_instructions", headings=True, emphasis=True, quotes=True, tables=True, rules=True, urls=True,
    link_orphans=True, markdown=False,
)
POLICIES = {policy.name: policy for policy in (STACKEXCHANGE, WIKIHOW, REDDIT, NATURAL_INSTRUCTIONS)}


def policy_named(name: str | MarkdownPolicy) -> MarkdownPolicy:
    """A policy by its name (an import option), or the policy itself."""
    if isinstance(name, MarkdownPolicy):
        return name
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown Markdown policy {name!r}: expected one of {', '.join(POLICIES)}") from None


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

# Private-use characters mark, inside the text being cleaned, what was removed or is not prose. They
# survive the HTML converter, and no text of a dump holds them where the clean-up looks.
_HOLE = "\ue012"  # a link, image or URL that left nothing behind
_LINK_OPEN, _LINK_CLOSE = "\ue010", "\ue011"  # a link's text, its URL gone
_BLOCK_OPEN, _BLOCK_CLOSE = "\ue000", "\ue001"  # a code block, kept aside (a line of its own)
_INLINE_OPEN, _INLINE_CLOSE = "\ue002", "\ue003"  # inline code or maths, kept aside

_IMG_TAG = re.compile(r"<img\b[^>]*>", re.I)
_SCRIPT_TAG = re.compile(r"(<(sup|sub)\b[^>]*>)(.*?)</\2\s*>", re.I | re.S)
_ANY_TAG = re.compile(r"</?[A-Za-z][^>]*>")
# "1<sup>st</sup>", "XIX<sup>e</sup> siècle", "M<sup>me</sup>": ordinals and abbreviations, written inline.
_INLINE_SUPERSCRIPTS = {
    "st", "nd", "rd", "th", "e", "er", "re", "ère", "eme", "ème", "es", "me", "mme", "mlle", "lle", "o", "a", "os", "as",
}
_SIMPLE_SCRIPT = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")


def _script_text(match: re.Match, html: str) -> str:
    """``<sup>``/``<sub>`` written so that the meaning survives: 10<sup>6</sup> -> 10^6,
    x<sup>n+1</sup> -> x^(n+1), H<sub>2</sub>O -> H_2O. A superscript or subscript not attached to
    a word, or holding a phrase, is small print (a footnote, a caption): its text stays as it is."""
    kind = match.group(2).lower()
    inner = _ANY_TAG.sub("", match.group(3))
    text = html_lib.unescape(inner).strip()
    if not text:
        return ""
    before = html[match.start() - 1] if match.start() else " "
    detached = before.isspace() or before == ">"
    if detached or len(text) > 12 or len(text.split()) > 2:
        return ("" if detached else " ") + inner.strip()
    if kind == "sup" and text.lower() in _INLINE_SUPERSCRIPTS:
        return inner.strip()
    if kind == "sup" and text in ("TM", "tm"):
        return "™"
    after = html[match.end() : match.end() + 1]
    simple = _SIMPLE_SCRIPT.fullmatch(text) is not None
    # A digit subscript reads without brackets even before a letter: H_2O, C_6H_12O_6.
    if simple and not (after.isalnum() and not (kind == "sub" and text.isdigit())):
        return ("^" if kind == "sup" else "_") + inner.strip()
    return ("^(" if kind == "sup" else "_(") + inner.strip() + ")"


def html_to_markdown(html: str, policy: MarkdownPolicy | str = "stackexchange") -> str:
    """Convert a Stack Exchange-style HTML body to clean Markdown (see ``clean_markdown``).

    The input is HTML as the XML parser returns it (still holding ``&quot;``, ``&amp;``,
    ``&lt;`` ...); the HTML parser decodes those entities exactly once, so code comes out as the
    author wrote it. ``<pre class="lang-py">`` becomes a fence with that language."""
    return clean_markdown(converted_markdown(html), policy)


def converted_markdown(html: str) -> str:
    """The HTML converted to Markdown, before any clean-up: links, quotes and emphasis are all still
    there (what the first-person and reference rules read), superscripts and subscripts already
    written out, and images marked where they were."""
    if not html or not html.strip():
        return ""
    if "<su" in html or "<SU" in html:
        html = _SCRIPT_TAG.sub(lambda m: _script_text(m, html), html)
    if "<img" in html or "<IMG" in html:
        # The converter drops images without a trace; a mark shows where one was, so that the
        # sentence that only pointed at it ("Here is a diagram:") can go too.
        html = _IMG_TAG.sub(_HOLE, html)
    return _convert(html)


# --- Finding code -----------------------------------------------------------------------------

# A link's destination may hold one level of brackets: (https://en.wikipedia.org/wiki/A_(b)).
MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\((?:[^()\n]|\([^()\n]*\))*\)")
MD_LINK = re.compile(r"\[([^\]\n]+)\]\((?:[^()\n]|\([^()\n]*\))*\)")
_MD_REF_LINK = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_MD_REF_DEF = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*\S+.*$", re.M)
MD_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto):[^>\s]+>", re.I)
_FENCE = re.compile(r" *(`{3,}|~{3,})")
_FENCE_LINE = re.compile(r"^ *(`{3,}|~{3,})[^\n]*$", re.M)
_LIST_ITEM = re.compile(r" {0,3}(?:[*+-]|\d{1,9}[.)])(?:[ \t]|$)")


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


def is_maths(piece: str) -> bool:
    """Whether a non-prose piece of ``_segments`` is maths (rather than code)."""
    return piece.startswith(("$", "\\(", "\\["))


# --- Markdown clean-up ------------------------------------------------------------------------

_SPACES = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
# What a removed URL leaves behind: "(see )" -> "", "[ ]" -> "".
_EMPTY_BRACKETS = re.compile(
    r"[ \t]*[(\[](?<![\w)\]].)(?:(?<=\()(?:see|at|here|source|voir|ici)?:?\s*\)|(?<=\[)\s*\])", re.I
)
_TRAILING_SPACES = re.compile(r"[ \t]+(?=\n)")
_QUOTE_START = re.compile(r"^ {0,3}>", re.M)
_BLANK_PARAGRAPH = re.compile(r"^(?:[ \t]|&nbsp;|&#x200[Bb];|\u200b)+$", re.M)
_BLANK_LINES = re.compile(r"\n{3,}")
_TOKEN = re.compile("[\ue000\ue002](\\d+)[\ue001\ue003]")


def _cleanable(text: str, policy: MarkdownPolicy) -> bool:
    """Whether clean_markdown may change anything in `text`: one of the markers its passes are guarded
    by. Substring tests rather than one regex alternation, which tries every alternative at every
    position and was ~10x slower on the ingest's hot path."""
    return (
        ("]" in text and ("](" in text or "]:" in text or "][" in text)) or "<" in text or _HOLE in text
        or (not policy.urls and ("://" in text or "www." in text or "WWW." in text))
        or "  " in text or " \n" in text or "\t" in text or "\n\n\n" in text
        or (not policy.headings and "#" in text)
        or (not policy.emphasis and ("*" in text or "_" in text or "~~" in text))
        or (not policy.quotes and ">" in text)
        or (not policy.tables and "|" in text)
        or (not policy.rules and ("---" in text or "***" in text or "___" in text or "===" in text))
        or (not policy.edit_notes and ("dit" in text or "DIT" in text or "ETA" in text or "pdate" in text))
    )


def clean_markdown(text: str, policy: MarkdownPolicy | str = "stackexchange") -> str:
    """Clean Markdown or plain text the way LIMA cleaned its sources, keeping what ``policy`` keeps:
    normalise line endings; links become their text, images and bare URLs go, and so does a sentence
    that only pointed at one; then headings, emphasis, quotes, tables and rules as the policy says;
    blank lines collapsed, trailing spaces trimmed (invisible hard breaks). Code blocks, inline code
    and maths are left exactly as they are."""
    if not text:
        return ""
    policy = policy_named(policy)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not policy.markdown:
        return text.strip("\n")  # plain text, as written
    if not _cleanable(text, policy):  # nothing to remove anywhere: no need to find the code
        return text.strip("\n").rstrip()
    if "&nbsp;" in text or "&#x200" in text or "\u200b" in text:
        # Paragraphs of nothing but a (zero-width) space, as Reddit's editor writes them.
        text = _BLANK_PARAGRAPH.sub("", text)
    if not policy.quotes and ">" in text and _QUOTE_START.search(text):
        text = _unquote(text)
    masked, kept = _mask(text)
    if (
        "](" in masked or "][" in masked or "]:" in masked or "<" in masked or _HOLE in masked
        or (not policy.urls and ("://" in masked or "www." in masked or "WWW." in masked))
    ):
        lines = _remove_links(masked, policy)
    else:
        lines = masked.split("\n")
    if (not policy.headings or not policy.rules) and _BLOCK_MARKUP.search(masked):
        lines = _flatten_headings_and_rules(lines, policy)
    if not policy.tables and any("|" in line for line in lines):
        lines = _tables_to_lists(lines, kept)
    if not policy.emphasis:
        lines = [_plain_emphasis(line) if ("*" in line or "_" in line or "~~" in line) else line for line in lines]
    if not policy.edit_notes:
        lines = _drop_edit_notes(lines)
    text = _tidy("\n".join(lines))
    return _unmask(text, kept).strip("\n").rstrip()


def _unquote(text: str) -> str:
    """Block quotes become their text, as paragraphs of their own (outside code; quoted code fences
    come out as fences). Reddit's >!spoilers!< become their text."""
    blocks = _code_blocks(text)
    out: list[str] = []
    position = 0
    previous_quoted = False
    for line in text.split("\n"):
        start = position
        position += len(line) + 1
        if any(a <= start < b for a, b in blocks):
            out.append(line)
            previous_quoted = False
            continue
        if ">!" in line:
            line = re.sub(r">!(.+?)!<", r"\1", line)
        match = re.match(r" {0,3}>(?:[ \t]?>)*[ \t]?", line)
        if match:
            if out and out[-1].strip() and not previous_quoted:
                out.append("")  # a quote right after a paragraph line must not join it
            out.append(line[match.end() :])
            previous_quoted = True
        else:
            if previous_quoted and line.strip() and _LIST_ITEM.match(line) is None:
                out.append("")
            out.append(line)
            previous_quoted = False
    return "\n".join(out)


def _mask(text: str) -> tuple[str, list[str]]:
    """The text with each code block replaced by a line of its own and each inline code span or maths
    by a token, so that the passes below see prose only; ``kept`` holds what the tokens stand for."""
    kept: list[str] = []
    out: list[str] = []
    for is_prose, piece in _segments(text):
        if is_prose:
            out.append(piece)
            continue
        if "\n" in piece and (piece.lstrip(" ").startswith(("```", "~~~")) or piece.startswith(("    ", "\t"))):
            ending = "\n" if piece.endswith("\n") else ""
            kept.append(piece[: len(piece) - len(ending)])  # the block's line ends outside the token
            out.append(f"{_BLOCK_OPEN}{len(kept) - 1}{_BLOCK_CLOSE}{ending}")
        else:
            kept.append(piece)
            out.append(f"{_INLINE_OPEN}{len(kept) - 1}{_INLINE_CLOSE}")
    return "".join(out), kept


def _unmask(text: str, kept: list[str]) -> str:
    if not kept:
        return text
    return _TOKEN.sub(lambda m: kept[int(m.group(1))], text)


def _is_block_token(line: str) -> bool:
    return _BLOCK_OPEN in line  # a code block's token is alone on its line


# --- Links and what only pointed at them ---------------------------------------------------------

_URL_LIKE = re.compile(r"\s*(?:(?:https?|ftp)://|www\.|mailto:)\S*\s*", re.I)
_LINE_PREFIX = re.compile(r"[ \t]*(?:(?:[*+-]|\d{1,9}[.)])[ \t]+|#{1,6}[ \t]+|>[ \t]?)*")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[ \t]+(?=[^a-z\s])")
_WORDS = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")

# The word right before a link that left nothing ("see <url>", "available at <url>", "Docs: <url>"):
# the sentence pointed at it. English and French.
_POINTS_AT = frozenset(
    "at from on to via see visit here there check read download following link links url website site page "
    "docs documentation source sources reference references or and in under this found available "
    "à sur de du des ici voir visitez consultez lien liens ou et dans disponible suivant suivante".split()
)
# A link whose text only said "follow me" ("see [here](...)"), in a short sentence.
_POINTER_LINK_TEXTS = frozenset((
    "here", "click here", "this link", "link", "the link", "source", "the source", "read more",
    "ici", "cliquez ici", "ce lien", "le lien", "lien", "la source",
))
# Sentences that attribute or point ("Sourced from Wikipedia.", "See also the FAQ.", "More information").
_POINTER_SENTENCE = re.compile(
    r"^[\W_]*(?:sourced?\b|sources\b|taken from|quoted from|adapted from|from\b|via\b|credits?\b|images?\b|"
    r"photo\b|picture\b|see\b|more info(?:rmation)?\b|for more info|further (?:reading|information)|"
    r"(?:you can )?(?:read|learn|find out) more|references?\b|documentation\b|docs\b|links?\b|related\b|"
    r"tiré de|extrait de|d['’]après|voir\b|plus d['’]info|pour (?:plus d['’]info|en savoir plus)|"
    r"en savoir plus|liens?\b|références?\b|crédits?\b)",
    re.I,
)
_POINTER_ANYWHERE = re.compile(
    r"\b(?:(?:read|learn|find out) more|click here|here\s*:|see here|check (?:it )?out|more (?:info|information|"
    r"details) (?:here|at|on)|plus d['’]informations|en savoir plus|voir ici|cliquez ici)\b",
    re.I,
)
_LABEL_MARKUP = re.compile(r"^[\s#>*_]*|[\s*_]*$")


_HOLES = re.compile(_HOLE)
_CLOSING_BRACKET = re.compile(f"[{_HOLE}\\s]*[)\\]]")
_LINK_TEXTS = re.compile(f"{_LINK_OPEN}(.*?){_LINK_CLOSE}")


def _link_text(match: re.Match) -> str:
    text = match.group(1)
    visible = text.replace(_HOLE, "").replace(_LINK_OPEN, "").replace(_LINK_CLOSE, "")
    if not visible.strip() or _URL_LIKE.fullmatch(visible):
        return _HOLE
    return f"{_LINK_OPEN}{text}{_LINK_CLOSE}"


def _replace_links(line: str, policy: MarkdownPolicy) -> str:
    if "](" in line:
        line = MD_IMAGE.sub(_HOLE, line)
        line = MD_LINK.sub(_link_text, line)
    if "][" in line:
        line = _MD_REF_LINK.sub(_link_text, line)
    if "<" in line:
        line = MD_AUTOLINK.sub(_HOLE, line)
    if not policy.urls and ("://" in line or "www." in line or "WWW." in line):
        line = URL.sub(_HOLE, line)
    return line


def _says_follow_me(link_text: str) -> bool:
    words = _WORDS.findall(link_text.lower())
    return " ".join(words) in _POINTER_LINK_TEXTS or (bool(words) and words[-1] in ("here", "ici"))


def _pointless(sentence: str) -> bool:
    """Whether a sentence that held a removed link said nothing without it."""
    plain = sentence.replace(_LINK_OPEN, "").replace(_LINK_CLOSE, "")
    words = _WORDS.findall(_TOKEN.sub(" x ", plain.replace(_HOLE, " ")))
    if not words:
        return True
    for hole in _HOLES.finditer(plain):
        before = _TOKEN.sub(" x ", plain[: hole.start()]).rstrip(" \t*_\"'“")
        opened = max(before.rfind("("), before.rfind("["))
        if (
            opened >= 0 and not any(c in before[opened:] for c in ")]")
            and len(_WORDS.findall(before[opened:])) <= 2 and _CLOSING_BRACKET.match(plain, hole.end())
        ):
            continue  # an aside in brackets: "the docs (<url>) say", "(see <url>)" read well without it
        previous = _WORDS.findall(before)
        if not previous or previous[-1].lower() in _POINTS_AT:
            return True
        if before.endswith((":", "-", "–", "—", "=")):
            # "Docs: <url>" said nothing; "It was made by the ICO, the coffee organisation: <url>" did,
            # and ends with a full stop instead (see _drop_pointing_sentences).
            rest = plain[hole.end() :].replace(_HOLE, "").strip(" \t.!?")
            if rest or len(previous) <= _SHORT_LABEL_WORDS:
                return True
        if len(words) <= 3:
            return True
    links = _LINK_TEXTS.findall(sentence)
    if len(words) <= 15 and any(_says_follow_me(text) for text in links):
        return True
    if len(words) <= 12 and _POINTER_SENTENCE.match(plain.replace(_HOLE, "")):
        return True
    return len(words) <= 25 and _POINTER_ANYWHERE.search(plain) is not None


# A label of this many words or fewer over a removed link or image goes ("Sources:", "Here is a
# diagram:"); a longer one says something and ends with a full stop instead.
_SHORT_LABEL_WORDS = 5
_COLON_BEFORE_HOLE = re.compile(f"[ \t]*[:\\-–—][ \t]*[{_HOLE} \t]*[.!?]?[ \t]*$")


def _drop_pointing_sentences(line: str) -> str | None:
    """The line without its sentences that only pointed at a removed link; None when none is left."""
    prefix = _LINE_PREFIX.match(line).group(0)
    content = line[len(prefix) :]
    sentences = _SENTENCE_BREAK.split(content)
    kept = [s for s in sentences if not ((_HOLE in s or _LINK_OPEN in s) and _pointless(s))]
    kept = [_COLON_BEFORE_HOLE.sub(".", s) if _HOLE in s else s for s in kept]
    if not kept:
        return None
    return prefix + " ".join(kept)


def _label_kind(line: str) -> str | None:
    """What announces what follows: "title" for a heading or a line all in bold, "colon" for a short
    line ending with ":" ("Sources:", "Here is a diagram:"); None for anything else."""
    stripped = line.strip()
    if not stripped or _is_block_token(stripped):
        return None
    if stripped.startswith("#"):
        kind = "title"
    elif stripped.endswith((":", ":**", ":*", ":__")):
        kind = "colon"
    elif (stripped.startswith(("**", "__")) and stripped.rstrip(".").endswith(("**", "__"))) or (
        stripped.startswith("*") and stripped.endswith("*") and not stripped.startswith("* ")
    ):
        kind = "title"
    else:
        return None
    return kind if 0 < len(_WORDS.findall(stripped)) <= 10 else None


def _drop_empty_labels(out: list[str | None], dropped: set[int]) -> None:
    """A label whose content went with the links goes too: a "colon" label when the block right after
    it went entirely ("Sources:" over a list of links); a "title" when its whole section did
    ("**More Information**" over links, up to the next title or the end)."""
    for index in range(len(out) - 1, -1, -1):
        line = out[index]
        kind = None if line is None or index in dropped else _label_kind(line)
        if kind is None:
            continue
        following = index + 1
        while following < len(out) and out[following] is not None and not out[following].strip():
            following += 1
        run = []
        while following < len(out) and (out[following] is None or out[following].strip()):
            if kind == "title" and out[following] is not None and _label_kind(out[following]) == "title":
                break
            run.append(following)
            following += 1
            if kind == "title":  # the section goes on past blank lines
                while following < len(out) and out[following] is not None and not out[following].strip():
                    following += 1
        if run and all(i in dropped for i in run):
            words = _WORDS.findall(line)
            if kind == "colon" and len(words) > _SHORT_LABEL_WORDS and words[-1].lower() not in _POINTS_AT:
                out[index] = re.sub(r"[ \t]*:([*_]*)[ \t]*$", r".\1", line)
                continue
            out[index] = None
            dropped.add(index)


_DROPPED_LINE = "\ue013"


def _remove_links(text: str, policy: MarkdownPolicy) -> list[str]:
    """The lines of ``text`` with links, images and URLs replaced by their marks, and the sentences and
    labels that only pointed at them dropped. (Links never span lines: the substitutions run on the
    whole text at once, the sentences are looked at only on the lines that hold a mark.)"""
    if "]:" in text:
        text = _MD_REF_DEF.sub(_DROPPED_LINE, text)
    text = _replace_links(text, policy)
    out: list[str | None] = text.split("\n")
    dropped: set[int] = set()
    for index, line in enumerate(out):
        if line == _DROPPED_LINE:
            out[index] = None
            dropped.add(index)
        elif not policy.link_orphans and (_HOLE in line or _LINK_OPEN in line) and not _is_block_token(line):
            out[index] = _drop_pointing_sentences(line)
            if out[index] is None:
                dropped.add(index)
    if dropped:
        _drop_empty_labels(out, dropped)
    return [line for line in out if line is not None]


# --- Headings, rules, tables, emphasis ----------------------------------------------------------

# Where a heading, a setext underline or a thematic break may be.
_BLOCK_MARKUP = re.compile(r"^ {0,3}(?:#|[-=]+[ \t]*$|([-*_])(?:[ \t]*\1){2,}[ \t]*$)", re.M)
_ATX_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r" {0,3}(?:=+|-+)[ \t]*$")
_THEMATIC_BREAK = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_TABLE_DELIMITER = re.compile(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")


def _is_paragraph_line(line: str) -> bool:
    return bool(line.strip()) and not _is_block_token(line) and _LIST_ITEM.match(line) is None and not (
        line.lstrip().startswith(("#", ">", "|"))
    )


def _flatten_headings_and_rules(lines: list[str], policy: MarkdownPolicy) -> list[str]:
    out: list[str] = []
    blank_after = False
    for line in lines:
        if blank_after and line.strip():
            out.append("")
        blank_after = False
        if _is_block_token(line):
            out.append(line)
            continue
        if not policy.headings and line.lstrip(" ").startswith("#"):
            heading = _ATX_HEADING.fullmatch(line)
            if heading:
                if out and out[-1].strip():
                    out.append("")
                if heading.group(1):
                    out.append(heading.group(1))
                    blank_after = True
                continue
        if out and _SETEXT_UNDERLINE.fullmatch(line) and _is_paragraph_line(out[-1]):
            if policy.headings:  # the line above is a heading (CommonMark's setext form)
                out.append(line)
            else:
                blank_after = True
            continue
        if not policy.rules and _THEMATIC_BREAK.fullmatch(line):
            out.append("")
            continue
        out.append(line)
    return out


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", row)]


def _tables_to_lists(lines: list[str], kept: list[str]) -> list[str]:
    """GFM tables become lists, one item a row: "- Name: espresso; Water: 30 ml"."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if (
            "|" in line and index + 1 < len(lines) and _TABLE_DELIMITER.fullmatch(lines[index + 1])
            and "|" in lines[index + 1] and not _is_block_token(line)
        ):
            headers = _cells(line)
            index += 2
            rows = []
            while index < len(lines) and "|" in lines[index] and lines[index].strip():
                rows.append(_cells(lines[index]))
                index += 1
            if out and out[-1].strip():
                out.append("")
            for cells in rows or [headers]:
                pairs = zip_longest(headers if rows else [], cells, fillvalue="")
                items = [f"{header}: {cell}" if header else cell for header, cell in pairs if cell]
                out.append("- " + "; ".join(items))
            for token in _TOKEN.finditer("".join(out[-len(rows or [headers]) :])):
                kept[int(token.group(1))] = kept[int(token.group(1))].replace("\\|", "|")
            if index < len(lines) and lines[index].strip():
                out.append("")
            continue
        out.append(line)
        index += 1
    return out


_STRIKE = re.compile(r"([ \t]*)(?<!~)~~(?=\S)(.+?)(?<=\S)~~(?!~)([ \t]*)")
_STRONG = re.compile(
    r"(?<![*\\])\*\*(?=[^\s*])(.+?)(?<=[^\s\\])\*\*(?!\*)|(?<![\w_\\])__(?=[^\s_])(.+?)(?<=[^\s\\])__(?![\w_])"
)
_EM_STAR = re.compile(r"(?<![\w*\\])\*(?=[^\s*])(.+?)(?<=[^\s*\\])\*(?![\w*])")
_EM_UNDERSCORE = re.compile(r"(?<![\w\\])_(?=[^\s_])(.+?)(?<=[^\s_\\])_(?!\w)")


def _plain_emphasis(line: str) -> str:
    """Bold and italics become their text; struck-through text (withdrawn by its author) goes."""
    if _is_block_token(line):
        return line
    if "~~" in line:
        # One space stays where the struck text was between two words: "a ~~b~~ c" -> "a c".
        line = _STRIKE.sub(lambda m: " " if m.group(1) and m.group(3) and m.end() < len(line) else "", line)
    if "**" in line or "__" in line:
        for _ in range(2):  # ***both*** and nested **bold *italics***
            line = _STRONG.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), line)
    if "*" in line:
        line = _EM_STAR.sub(r"\1", line)
    if "_" in line:
        line = _EM_UNDERSCORE.sub(r"\1", line)
    return line


_EDIT_NOTE = re.compile(r"[\s*_]*(?:edit(?:ed)?|eta|update[d]?|ps)\b[\s\d*_]*(?:[:\-–]|\s+\d+\s*:)", re.I)


def _drop_edit_notes(lines: list[str]) -> list[str]:
    """Reddit's paragraphs about the post itself, at its end ("Edit: thanks for the gold!")."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    while end:
        start = end
        while start and lines[start - 1].strip():
            start -= 1
        if not _EDIT_NOTE.match(lines[start]) or start == 0:
            break
        end = start
        while end and not lines[end - 1].strip():
            end -= 1
    return lines[:end]


def _tidy(text: str) -> str:
    """Remove the marks and the spaces, brackets and punctuation a removed link left behind."""
    if _HOLE in text:
        # "at <url>." -> "at." (only there: French puts a space before ? ! : ; on purpose)
        text = re.sub(f"[ \t]*{_HOLE}+[ \t]*(?=[,.;:!?)\\]])", "", text)
        text = text.replace(_HOLE, "")
        text = _EMPTY_BRACKETS.sub("", text)
    if _LINK_OPEN in text:
        text = text.replace(_LINK_OPEN, "").replace(_LINK_CLOSE, "")
    if "  " in text or "\t" in text or " \n" in text:
        text = _SPACES.sub(" ", text)
        text = _TRAILING_SPACES.sub("", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text
