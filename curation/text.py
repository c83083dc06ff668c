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
from markdown_it import MarkdownIt
from markdownify import MarkdownConverter

# --- HTML -> Markdown -------------------------------------------------------------------------

_URL = re.compile(r"""(?:https?|ftp)://[^\s<>"')\]]+|www\.[^\s<>"')\]]+\.[^\s<>"')\]]+""", re.I)


def _code_language(el) -> str:
    # Stack Exchange marks the language as <pre class="lang-py"> or <code class="language-python">.
    for node in (el, el.find("code")):
        if node is None:
            continue
        for cls in node.get("class") or []:
            for prefix in ("lang-", "language-"):
                if cls.startswith(prefix) and cls[len(prefix):] not in ("", "none"):
                    return cls[len(prefix):]
    return ""


class _LimaConverter(MarkdownConverter):
    """markdownify with LIMA's rules: drop links' URLs, images and any other markup but lists,
    code, emphasis, headings and quotes."""

    def convert_a(self, el, text, parent_tags):
        # The text stays unless it is itself a URL (an autolink): URLs go.
        href = (el.get("href") or "").strip()
        if not text.strip() or text.strip() == href or _URL.fullmatch(text.strip()):
            return ""
        return text

    def convert_img(self, el, text, parent_tags):
        return ""

    def convert_br(self, el, text, parent_tags):
        if "_inline" in parent_tags:
            return " "
        return "\n"

    def process_text(self, el, parent_tags=None):
        text = super().process_text(el, parent_tags)
        if parent_tags is not None and ("pre" in parent_tags or "code" in parent_tags):
            return text
        return _URL.sub("", text)


_CONVERTER_OPTIONS = dict(
    heading_style="ATX",
    bullets="*",
    # Underscores inside words (snake_case) do not start emphasis in CommonMark; escaping them
    # would only litter prose with backslashes.
    escape_underscores=False,
    code_language_callback=_code_language,
    strip=["script", "style"],
)


def html_to_markdown(html: str) -> str:
    """Convert a Stack Exchange-style HTML body to LIMA-clean Markdown.

    The input is HTML as the XML parser returns it (still holding ``&quot;``, ``&amp;``,
    ``&lt;`` ...); the HTML parser decodes those entities exactly once.
    """
    if not html or not html.strip():
        return ""
    markdown = _LimaConverter(**_CONVERTER_OPTIONS).convert(html)
    return _tidy(markdown)


# --- Markdown clean-up ------------------------------------------------------------------------

_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
_MD_REF_DEF = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*\S+.*$", re.M)
_MD_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto):[^>\s]+>", re.I)
_SPACES = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")


@lru_cache(maxsize=1)
def _block_parser() -> MarkdownIt:
    return MarkdownIt("commonmark")


def _code_line_ranges(markdown: str) -> list[tuple[int, int]]:
    """Line ranges [start, end) of fenced and indented code blocks, as markdown-it sees them."""
    return [
        tuple(token.map)
        for token in _block_parser().parse(markdown)
        if token.type in ("fence", "code_block") and token.map
    ]


# An inline code span: a run of backticks closed by a run of the same length (CommonMark).
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
# Maths as Stack Exchange's MathJax writes it: $$..$$, $..$, \[..\], \(..\).
_MATHS = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$|\\\[.+?\\\]|\\\(.+?\\\)", re.S)


def _segments(markdown: str) -> list[tuple[bool, str]]:
    """Split Markdown into (is_prose, text) pieces: code blocks, inline code and maths are not
    prose. Joining every piece gives back the input exactly."""
    lines = markdown.splitlines(keepends=True)
    code_lines = set()
    for start, end in _code_line_ranges(markdown):
        code_lines.update(range(start, end))
    blocks: list[tuple[bool, str]] = []
    for index, line in enumerate(lines):
        is_prose = index not in code_lines
        if blocks and blocks[-1][0] == is_prose:
            blocks[-1] = (is_prose, blocks[-1][1] + line)
        else:
            blocks.append((is_prose, line))
    pieces: list[tuple[bool, str]] = []
    for is_prose, text in blocks:
        if not is_prose:
            pieces.append((False, text))
            continue
        pieces.extend(_split_inline(text))
    return pieces


def _split_inline(text: str) -> list[tuple[bool, str]]:
    pieces: list[tuple[bool, str]] = []
    position = 0
    spans = sorted(
        [m.span() for m in _CODE_SPAN.finditer(text)] + [m.span() for m in _MATHS.finditer(text)]
    )
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


def prose_text(markdown: str) -> str:
    """The prose of a Markdown text: code blocks, inline code and maths replaced by a space."""
    return "".join(text if is_prose else " " for is_prose, text in _segments(markdown))


def _clean_prose(text: str) -> str:
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_REF_DEF.sub("", text)
    text = _MD_AUTOLINK.sub("", text)
    text = _URL.sub("", text)
    return _SPACES.sub(" ", text)


def clean_markdown(text: str) -> str:
    """Clean Markdown or plain text the way LIMA cleaned its sources: normalise line endings,
    remove links (their text stays), images and bare URLs outside code, collapse blank lines."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cleaned = "".join(
        _clean_prose(piece) if is_prose else piece for is_prose, piece in _segments(text)
    )
    return _tidy(cleaned)


_TRAILING_SPACES = re.compile(r"[ \t]+$", re.M)
_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy(markdown: str) -> str:
    markdown = markdown.replace("\r\n", "\n").replace("\r", "\n")
    # Trailing spaces are invisible hard breaks in Markdown; inside code they carry no meaning
    # either, so they go everywhere.
    markdown = _TRAILING_SPACES.sub("", markdown)
    # Removing an image or a URL can leave a doubled space in prose; never touch code.
    markdown = "".join(
        _SPACES.sub(" ", piece) if is_prose else piece for is_prose, piece in _segments(markdown)
    )
    return _BLANK_LINES.sub("\n\n", markdown).strip()


# --- First person and references -------------------------------------------------------------

# LIMA.md: answers "written in the first person ("I", "my")" are dropped. "I" is matched with its
# contractions and only in upper case ("i" is a loop variable); "me"/"myself" are the same voice.
_FIRST_PERSON = re.compile(
    r"(?<![\w'’$%\\^_=+*/<>-])(I(?:['’](?:m|ve|ll|d))?|[Mm]y|MY|[Mm]e|[Mm]yself)"
    r"(?![\w'’$^_=+*/<>(-]|\.\w)"
)
# Quoted speech on one line ("I loved", “I have”) is an example, not the author's voice.
_QUOTED = re.compile(r'"[^"\n]{1,200}"|“[^”\n]{1,200}”')
# "I" next to a digit, an operator or a bracket is a variable or a numeral ("I = V/R", "I(x)").
_VARIABLE_I = re.compile(r"(?:[=+*/^<>]\s*I\b(?!['’]))|(?:\bI\s*[=+*/^<>(\[])")
# Roman numeral "I" in "World War I", "Part I", "Type I", "Phase I" ...
_ROMAN_I = re.compile(
    r"\b(?:War|Part|Type|Phase|Class|Chapter|Book|Volume|Vol\.|Act|Section|Article|Level|Stage|"
    r"Grade|Henry|Charles|Elizabeth|James|George|Louis|Edward|William|Napoleon|Gen|Mark|Series)\s+I\b",
)


def first_person_words(markdown: str) -> list[str]:
    """First-person words ("I", "I'm", "my", "me", "myself") in the prose of a Markdown text.

    Words inside code blocks, inline code and maths are not prose, so "I" as a variable there
    does not count; nor does "I" next to an operator ("I = V/R") or as a Roman numeral."""
    prose = prose_text(markdown)
    prose = _VARIABLE_I.sub(" ", prose)
    prose = _ROMAN_I.sub(" ", prose)
    prose = _QUOTED.sub(" ", prose)
    return [m.group(1) for m in _FIRST_PERSON.finditer(prose)]


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
_REFERENCE = re.compile(
    r"(?<!\w)(" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in REFERENCE_PHRASES) + r")(?!\w)",
    re.I,
)


def reference_phrases(markdown: str, phrases=REFERENCE_PHRASES) -> list[str]:
    """Phrases referring to other answers, the site or the asker, found in the prose."""
    pattern = _REFERENCE if phrases is REFERENCE_PHRASES else re.compile(
        r"(?<!\w)(" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in phrases) + r")(?!\w)",
        re.I,
    )
    return [m.group(1) for m in pattern.finditer(prose_text(markdown))]


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
    prose = prose_text(response).strip()
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
def _renderer() -> MarkdownIt:
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
