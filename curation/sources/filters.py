"""LIMA's filtering rules. Each rule is a small function returning a rejection reason (a short
snake_case string stored on the record) or None when the text passes.

The numbers come from the paper (../shared/LIMA.md, "Per-source rules", Stack Exchange):
"the top answer, if its score >= 10. Drop answers shorter than 1,200 or longer than 4,096
characters, written in the first person ("I", "my"), or referring to other answers ("as
mentioned", "stack exchange", ...)."

``check_answer(text, score)`` runs them all in LIMA's order (cheapest first) and returns the
first reason; sources that have no score pass ``score=None``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from curation.sources.cleaning import prose_text

# --- First person and references (read in the prose only) -------------------------------------------------------------

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



# --- The rules ------------------------------------------------------------------------------

MIN_ANSWER_SCORE = 10  # LIMA.md: "the top answer, if its score >= 10"
MIN_ANSWER_CHARS = 1200  # LIMA.md: "Drop answers shorter than 1,200 ..."
MAX_ANSWER_CHARS = 4096  # LIMA.md: "... or longer than 4,096 characters"


def check_score(score: int | None, minimum: int = MIN_ANSWER_SCORE) -> str | None:
    """An answer scoring below ``minimum`` is rejected ("answer_score_below_10")."""
    if score is None or score < minimum:
        return f"answer_score_below_{minimum}"
    return None


def check_not_empty(text: str) -> str | None:
    return "empty_answer" if not text or not text.strip() else None


def check_length(
    text: str, minimum: int = MIN_ANSWER_CHARS, maximum: int = MAX_ANSWER_CHARS
) -> str | None:
    """Length in characters of the cleaned text, LIMA's 1,200-4,096 window."""
    length = len(text.strip())
    if length < minimum:
        return "answer_too_short"
    if length > maximum:
        return "answer_too_long"
    return None


def check_first_person(text: str) -> str | None:
    """"I", "my" (and their forms) in prose; code, inline code and maths do not count."""
    return "first_person" if first_person_words(text) else None


def check_references(text: str, phrases=REFERENCE_PHRASES) -> str | None:
    """Referring to other answers, the site or the asker ("as mentioned", "stack exchange")."""
    return "refers_to_other_answers" if reference_phrases(text, phrases) else None


TextRule = Callable[[str], "str | None"]

# Cheapest first, so the reason recorded is the cheapest one that fails.
ANSWER_TEXT_RULES: tuple[TextRule, ...] = (
    check_not_empty,
    check_length,
    check_first_person,
    check_references,
)


def first_failure(text: str, rules: tuple[TextRule, ...] = ANSWER_TEXT_RULES) -> str | None:
    """The first reason any of ``rules`` gives for ``text``, or None when all pass."""
    for rule in rules:
        reason = rule(text)
        if reason:
            return reason
    return None


def check_answer(
    text: str,
    score: int | None = None,
    *,
    min_score: int | None = MIN_ANSWER_SCORE,
    min_chars: int = MIN_ANSWER_CHARS,
    max_chars: int = MAX_ANSWER_CHARS,
) -> str | None:
    """All of LIMA's Stack Exchange rules for one cleaned (Markdown) answer.

    ``min_score=None`` skips the score rule (sources without votes)."""
    if min_score is not None:
        reason = check_score(score, min_score)
        if reason:
            return reason
    return first_failure(
        text,
        (
            check_not_empty,
            lambda t: check_length(t, min_chars, max_chars),
            check_first_person,
            check_references,
        ),
    )
