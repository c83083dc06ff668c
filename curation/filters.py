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

from collections.abc import Callable

from curation.text import REFERENCE_PHRASES, first_person_words, reference_phrases

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
