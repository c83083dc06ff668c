"""The live check of the /write/ page and the review queue: lengths and LIMA's style warnings per turn.

Pure Python on top of the sources' clean-up and rules (curation.sources.cleaning, .filters); no Django.

Token counts are an estimate: about four characters per token, the usual figure for English with LLaMA-style
BPE/SentencePiece vocabularies. It is close enough to compare a draft with LIMA's averages (LIMA.md, Table 1)
without loading a tokenizer on every keystroke.
"""
import math
import re
from dataclasses import dataclass, field

from curation.sources.cleaning import MD_AUTOLINK, MD_IMAGE, MD_LINK, URL, prose_text
from curation.sources.filters import REFERENCE_PHRASES, first_person_words

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
    prose = URL.sub(" ", prose_text(response)).strip()
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
    links = MD_LINK.findall(prose) + MD_AUTOLINK.findall(prose) + URL.findall(prose)
    if links or MD_IMAGE.search(prose):
        warnings.append(StyleWarning("link", "Contains a link or an image; LIMA removed them.",
                                     ", ".join(links[:3])))
    lowered = " ".join(prose.lower().split())
    # `in` first: a plain substring search is far cheaper than the word-bounded regex, and most texts hold none.
    found = [p for p in PHRASES_TO_AVOID if p in lowered and re.search(r"(?<!\w)" + re.escape(p) + r"(?!\w)", lowered)]
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



CHARS_PER_TOKEN = 4.0
ROLES = ("user", "assistant")


def estimate_tokens(text):
    text = (text or "").strip()
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


@dataclass(frozen=True)
class TurnCheck:
    position: int
    role: str
    chars: int
    tokens: int
    warnings: list[StyleWarning] = field(default_factory=list)


def check_conversation(texts):
    """One TurnCheck per turn; responses are linted against the prompt they answer (users' turns are not)."""
    checks = []
    for position, text in enumerate(texts):
        role = ROLES[position % 2]
        warnings = []
        if role == "assistant" and (text or "").strip():
            warnings = style_warnings(text, prompt=texts[position - 1])
        checks.append(TurnCheck(position, role, len((text or "").strip()), estimate_tokens(text), warnings))
    return checks


def conversation_has_warnings(texts):
    return any(check.warnings for check in check_conversation(texts))
