"""Text cleaning shared by every source: HTML -> Markdown, Markdown clean-up, prose/code split,
first-person and reference detection, the /write/ page's style lint, and safe Markdown rendering.

Public functions (all pure, no Django):

- ``html_to_markdown(html) -> str``: LIMA's clean-up of an HTML body. Links become their text
  (URLs go), images and other HTML go, code blocks stay as fenced code and lists as Markdown
  lists; HTML entities are decoded exactly once, so code comes out as the author wrote it.
- ``clean_markdown(text) -> str``: the same clean-up for text that is already Markdown or plain
  text (wikiHow, Reddit, JSONL): CRLF -> LF, links/images/bare URLs removed outside code, blank
  lines collapsed, trailing spaces trimmed.
- ``prose_text(markdown) -> str``: the prose of a Markdown text, with code blocks, inline code and
  maths blanked out; what the first-person and reference rules read.
- ``first_person_words(markdown) -> list[str]`` and ``reference_phrases(markdown) -> list[str]``.
- ``style_warnings(text, prompt=None, ...) -> list[StyleWarning]``: the /write/ page's lint.
- ``render_markdown(text) -> str``: Markdown -> sanitised HTML (markdown-it-py, then nh3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import nh3
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
_URL = re.compile(
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
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\((?:[^()\n]|\([^()\n]*\))*\)")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((?:[^()\n]|\([^()\n]*\))*\)")
_MD_REF_DEF = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*\S+.*$", re.M)
_MD_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto):[^>\s]+>", re.I)
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
        text = _MD_IMAGE.sub("", text)
        text = _MD_LINK.sub(r"\1", text)
    if "]:" in text:
        text = _MD_REF_DEF.sub("", text)
    if "<" in text:
        text = _MD_AUTOLINK.sub("", text)
    if "://" in text or "www." in text or "WWW." in text:
        text = _URL.sub("", text)
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


# --- First person and references -------------------------------------------------------------

# LIMA.md: answers "written in the first person ("I", "my")" are dropped. "I" is matched with its
# contractions and only in upper case ("i" is a loop variable); "me"/"myself" are the same voice.
# The pattern starts with a character class, which keeps the regex engine fast; the lookbehind
# then checks the character before the word (not a letter, an apostrophe or an operator).
_FIRST_PERSON = re.compile(
    r"[IMm](?<![\w'’$%\\^_=+*/<>-].)"
    r"(?:(?<=I)(?:['’](?:m|ve|ll|d))?|(?<=[Mm])(?:yself|y|e)|(?<=M)Y)"
    r"(?![\w'’$^_=+*/<>(-]|\.\w)"
)
# Quoted speech on one line ("I loved", “I have”) is an example, not the author's voice.
_QUOTED = re.compile(r'"[^"\n]{1,200}"|“[^”\n]{1,200}”')
_OPERATORS_BEFORE_I = "=+*/^<>"
_OPERATORS_AFTER_I = "=+*/^<>(["
# "World War I", "Part I", "Type I", "Phase I": a Roman numeral.
_ROMAN_I = re.compile(
    r"\b(?:War|Part|Type|Phase|Class|Chapter|Book|Volume|Vol\.|Act|Section|Article|Level|Stage|"
    r"Grade|Henry|Charles|Elizabeth|James|George|Louis|Edward|William|Napoleon|Gen|Mark|Series)\s+$",
)


def _speaks_for_the_author(prose: str, match: re.Match) -> bool:
    start, end = match.span()
    if match.group(0) == "I":
        before = prose[max(0, start - 20) : start]
        after = prose[end : end + 3].lstrip()
        if before.rstrip()[-1:] in tuple(_OPERATORS_BEFORE_I) or after[:1] in tuple(_OPERATORS_AFTER_I):
            return False  # a variable: "I = V/R", "2*I", "I(x)"
        if _ROMAN_I.search(before):
            return False
    line_start = prose.rfind("\n", 0, start) + 1
    line_end = prose.find("\n", end)
    line = prose[line_start : line_end if line_end >= 0 else len(prose)]
    return not any(
        q.start() <= start - line_start and end - line_start <= q.end() for q in _QUOTED.finditer(line)
    )


def first_person_words(markdown: str) -> list[str]:
    """First-person words ("I", "I'm", "my", "me", "myself") in the prose of a Markdown text.

    Words inside code blocks, inline code and maths are not prose, so "I" as a variable there
    does not count; nor does "I" next to an operator ("I = V/R"), as a Roman numeral ("World
    War I") or in quoted speech."""
    prose = prose_text(markdown)
    return [m.group(0) for m in _FIRST_PERSON.finditer(prose) if _speaks_for_the_author(prose, m)]


# LIMA.md: answers "referring to other answers ("as mentioned", "stack exchange", ...)" are
# dropped. Phrases are matched case-insensitively on word boundaries, in prose only.
REFERENCE_PHRASES = (
    "as mentioned",
    "as already mentioned",
    "as others have",
    "as other answers",
    "as noted above",
    "as stated above",
    "as pointed out",
    "as said above",
    "mentioned above",
    "stated above",
    "stack exchange",
    "stackexchange",
    "stack overflow",
    "stackoverflow",
    "other answer",
    "other answers",
    "accepted answer",
    "above answer",
    "answer above",
    "answers above",
    "previous answer",
    "answer below",
    "this answer",
    "my answer",
    "in the comments",
    "comment above",
    "the op",
    "op's",
)


@lru_cache(maxsize=8)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern:
    # Whole words only, any run of spaces or newlines between the words of a phrase.
    alternatives = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in phrases)
    return re.compile(r"(?<!\w)(" + alternatives + r")(?!\w)", re.I)


_REFERENCE = _phrase_pattern(REFERENCE_PHRASES)


def reference_phrases(markdown: str, phrases=REFERENCE_PHRASES) -> list[str]:
    """Phrases referring to other answers, the site or the asker, found in the prose."""
    prose = prose_text(markdown)
    lowered = " ".join(prose.lower().split())
    if not any(phrase in lowered for phrase in phrases):
        return []
    pattern = _REFERENCE if phrases is REFERENCE_PHRASES else _phrase_pattern(tuple(phrases))
    return [m.group(1) for m in pattern.finditer(prose)]


# --- Style lint for the /write/ page ---------------------------------------------------------

@dataclass(frozen=True)
class StyleWarning:
    code: str  # "first_person" | "link" | "phrase_to_avoid" | "no_acknowledgement" | "length"
    message: str
    excerpt: str = ""


# Phrases that give a response away as a chatbot's, or that LIMA's curators removed.
PHRASES_TO_AVOID = (
    "as an ai",
    "as a language model",
    "as an ai language model",
    "i am an ai",
    "i'm an ai",
    "i'm just an ai",
    "i do not have personal",
    "i don't have personal",
    "i cannot browse",
    "my knowledge cutoff",
    "openai",
    "i hope this helps",
    "hope this helps",
    "feel free to ask",
    "let me know if",
    "good luck",
) + REFERENCE_PHRASES

# Openings that acknowledge the question before answering it (LIMA.md: hand-written responses
# "acknowledge the question, then answer it").
ACKNOWLEDGEMENT_OPENERS = (
    "sure", "certainly", "of course", "absolutely", "yes", "no", "great question",
    "good question", "here is", "here are", "here's", "that's", "that is", "it depends",
    "there are", "there is", "the short answer", "in short", "happy to", "glad you asked",
)

_STOPWORDS = frozenset(
    "a an the and or but if of to in on for with at by from is are was were be been being do does "
    "did how what why when where which who whom whose can could should would will shall may might "
    "must i you he she it we they me my your our their this that these those there here not no yes "
    "as so than then too very just about into over under more most some any all each".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s|\n")


def _content_words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if len(w) >= 4 and w.lower() not in _STOPWORDS}


def _acknowledges(response: str, prompt: str | None) -> bool:
    prose = _URL.sub(" ", prose_text(response)).strip()
    first = _SENTENCE_END.split(prose, maxsplit=1)[0].strip().lower() if prose else ""
    if any(re.match(re.escape(opener) + r"\b", first) for opener in ACKNOWLEDGEMENT_OPENERS):
        return True
    return bool(prompt) and bool(_content_words(first) & _content_words(prompt))


def style_warnings(
    text: str,
    prompt: str | None = None,
    *,
    min_chars: int | None = 1200,
    max_chars: int | None = 4096,
) -> list[StyleWarning]:
    """Lint a response for LIMA's style: first person, links, phrases to avoid, no
    acknowledgement of the question, length in characters (bounds from LIMA.md's Stack Exchange
    rule; pass None to skip one). ``prompt`` lets the acknowledgement check compare words."""
    warnings: list[StyleWarning] = []
    words = first_person_words(text)
    if words:
        warnings.append(StyleWarning(
            "first_person",
            f"Written in the first person ({len(words)} time{'s' if len(words) != 1 else ''}).",
            ", ".join(dict.fromkeys(words)),
        ))
    prose = prose_text(text)
    links = _MD_LINK.findall(prose) + _MD_AUTOLINK.findall(prose) + _URL.findall(prose)
    if links or _MD_IMAGE.search(prose):
        warnings.append(StyleWarning("link", "Contains a link or an image; LIMA removed them.",
                                     ", ".join(links[:3])))
    lowered = " ".join(prose.lower().split())
    found = [p for p in PHRASES_TO_AVOID if re.search(r"(?<!\w)" + re.escape(p) + r"(?!\w)", lowered)]
    if found:
        warnings.append(StyleWarning("phrase_to_avoid", "Contains a phrase to avoid.", ", ".join(found)))
    if text.strip() and not _acknowledges(text, prompt):
        warnings.append(StyleWarning(
            "no_acknowledgement", "The first sentence does not acknowledge the question."
        ))
    length = len(text.strip())
    if min_chars is not None and length < min_chars:
        warnings.append(StyleWarning("length", f"{length:,} characters; LIMA kept {min_chars:,} or more."))
    if max_chars is not None and length > max_chars:
        warnings.append(StyleWarning("length", f"{length:,} characters; LIMA kept {max_chars:,} or fewer."))
    return warnings


# --- Rendering --------------------------------------------------------------------------------

_ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}


@lru_cache(maxsize=1)
def _renderer():
    from markdown_it import MarkdownIt

    # html=False: raw HTML in the Markdown is shown as text, never passed through.
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render_markdown(text: str) -> str:
    """Markdown -> HTML safe to put in a page: no script, event handler or javascript: URL."""
    html = _renderer().render(text or "")
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
