"""LIMA's filtering rules. Each rule is a small function returning a rejection reason (a short
snake_case string stored on the record) or None when the text passes.

The numbers come from the paper (../shared/LIMA.md, "Per-source rules", Stack Exchange):
"the top answer, if its score >= 10. Drop answers shorter than 1,200 or longer than 4,096
characters, written in the first person ("I", "my"), or referring to other answers ("as
mentioned", "stack exchange", ...)." And: "the highest-scoring questions that are self-contained
in the title" (``title_not_self_contained``).

The first-person and reference rules read the prose only (code, inline code and maths are not
prose), sentence by sentence, with the phrase list of the text's language (``curation.sources.
language``): English, French, German, Spanish and Portuguese have lists; a text in another language
is read with the English list, and the rule says so (``Verdict.detail``).

``judge_answer(text, score, ...)`` runs them all in LIMA's order (cheapest first) and returns a
``Verdict``: the first reason (or None) and what the rule found (language, list, words, sentence);
``check_answer`` returns the reason alone. Sources that have no score pass ``min_score=None``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from curation.sources.cleaning import MD_IMAGE, MD_LINK, URL, _segments, is_maths, prose_text
from curation.sources.language import MIN_HITS, language_of, language_scores

# --- The prose the rules read ----------------------------------------------------------------------

_MATHS_MARK = "\x1a"  # where maths was: "the current I $= V/R$" uses I as a symbol


_QUOTE_LINE = re.compile(r"^ {0,3}>.*$", re.M)


@lru_cache(maxsize=16)
def _rule_prose(markdown: str) -> str:
    """What the rules read: the prose (prose_text), without block quotes (someone else's words);
    maths leaves a mark (the first-person rule looks at what is next to "I")."""
    prose = "".join(
        text if is_prose else (f" {_MATHS_MARK} " if is_maths(text) else " ") for is_prose, text in _segments(markdown)
    )
    if ">" in prose:
        prose = _QUOTE_LINE.sub(lambda m: " " * len(m.group(0)), prose)
    if "](" in prose or "://" in prose or "www." in prose:
        # Read before the clean-up, a text still holds its links: their text is prose, their URL not.
        prose = MD_IMAGE.sub(" ", prose)
        prose = MD_LINK.sub(lambda m: m.group(1), prose)
        prose = URL.sub(" ", prose)
    return prose


_EMPHASIS_MARKS = re.compile(r"\*\*|__|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")


def _sentence_at(prose: str, start: int, end: int) -> str:
    """The sentence around prose[start:end], for a person to see why the rule fired."""
    left = max(prose.rfind(mark, 0, start) for mark in (". ", "! ", "? ", "\n"))
    right = [i for i in (prose.find(mark, end) for mark in (". ", "! ", "? ", "\n")) if i >= 0]
    sentence = prose[left + 1 : (min(right) + 1) if right else len(prose)]
    sentence = " ".join(_EMPHASIS_MARKS.sub("", sentence.replace(_MATHS_MARK, "…")).split())
    return sentence if len(sentence) <= 240 else sentence[:237] + "…"


# Quoted speech on one line ("I loved", “I have”, « je pense », &quot;I like&quot; in LIMA's own
# published text) is an example, not the author's voice.
_QUOTED = re.compile(r'"[^"\n]{1,200}"|“[^”\n]{1,200}”|«[^»\n]{1,200}»|„[^“\n]{1,200}“|&quot;.{1,200}?&quot;')


def _in_quotes(prose: str, start: int, end: int) -> bool:
    """In quoted speech, or named in emphasis ("the pronoun *I*", "*je* is elided")."""
    if prose[start - 1 : start] in ("*", "_") and prose[end : end + 1] in ("*", "_"):
        return True
    line_start = prose.rfind("\n", 0, start) + 1
    line_end = prose.find("\n", end)
    line = prose[line_start : line_end if line_end >= 0 else len(prose)]
    return any(q.start() <= start - line_start and end - line_start <= q.end() for q in _QUOTED.finditer(line))


# --- Languages and their lists ---------------------------------------------------------------------

# LIMA.md: answers "written in the first person ("I", "my")" are dropped. English "I" is matched with
# its contractions and only in upper case ("i" is a loop variable); "me"/"myself" are the same voice.
# The pattern starts with a character class, which keeps the regex engine fast; the lookbehind
# then checks the character before the word (not a letter, an apostrophe or an operator).
_FIRST_PERSON_EN = re.compile(
    r"[IMm](?<![\w'’$%\\^_=+*/<>-].)"
    r"(?:(?<=I)(?:['’](?:m|ve|ll|d))?|(?<=[Mm])(?:yself|y|e)|(?<=M)Y)"
    r"(?![\w'’$^_=+*/<>(-]|\.\w)"
)
# The singular first person of the other languages with a list, any case; elided French "j'", "m'".
_FIRST_PERSON_OTHER = {
    "fr": r"je|moi|moi-même|me|mon|ma|mes",
    "de": r"ich|mein|meine|meiner|meinem|meinen|meines|mir|mich",
    "es": r"yo|mi|mis|mí|me|conmigo|mío|mía|míos|mías",
    "pt": r"eu|meu|minha|meus|minhas|comigo|me|mim",
}
_ELIDED = {"fr": r"[jm]['’](?=\w)"}  # "j'ai", "m'a"
_FIRST_PERSON_OTHER_PATTERNS = {
    code: re.compile(
        rf"(?<![\w'’-])(?:(?:{words})(?![\w'’-])" + (f"|{_ELIDED[code]})" if code in _ELIDED else ")"), re.I
    )
    for code, words in _FIRST_PERSON_OTHER.items()
}

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
)
_OTHER_REFERENCE_PHRASES = {
    "fr": (
        "comme mentionné", "comme indiqué plus haut", "comme dit plus haut", "comme déjà dit", "comme cela a été dit",
        "comme l'a dit", "comme l'ont dit", "comme l'a mentionné", "comme l'ont mentionné", "comme expliqué plus haut",
        "mentionné plus haut", "cité plus haut", "autre réponse", "autres réponses", "réponse acceptée",
        "réponse ci-dessus", "réponses ci-dessus", "réponse précédente", "réponse ci-dessous", "cette réponse",
        "ma réponse", "dans les commentaires", "en commentaire", "commentaire ci-dessus",
    ),
    "de": (
        "wie erwähnt", "wie bereits erwähnt", "wie schon erwähnt", "wie oben erwähnt", "oben erwähnt",
        "andere antwort", "anderen antwort", "anderen antworten", "akzeptierte antwort", "vorherige antwort",
        "diese antwort", "meine antwort", "in den kommentaren",
    ),
    "es": (
        "como se mencionó", "como ya se mencionó", "como mencionado", "como se ha dicho", "como dijeron",
        "otra respuesta", "otras respuestas", "respuesta aceptada", "respuesta anterior", "esta respuesta",
        "mi respuesta", "en los comentarios",
    ),
    "pt": (
        "como mencionado", "como já mencionado", "como já foi dito", "como foi dito", "outra resposta",
        "outras respostas", "resposta aceita", "resposta anterior", "resposta acima", "esta resposta",
        "minha resposta", "nos comentários",
    ),
}
# The site itself: not a reference when the question is about it (or on a meta site, which is).
SITE_PHRASES = ("stack exchange", "stackexchange", "stack overflow", "stackoverflow", "on this site", "sur ce site")
# "the OP" (the asker), written in capitals: not "the op-amp", "the op amp", "the opcode".
_THE_OP = re.compile(r"(?<!\w)(?:[Tt]he\s+|[Ll]['’]|[Oo]\s+|[Ee]l\s+)OP(?:['’]s)?(?![-\w])(?!\s+amps?\b)|(?<![\w-])OP['’]s(?!\w)")

LISTS = ("en", "fr", "de", "es", "pt")  # the languages with a phrase list
DEFAULT_LIST = "en"


def rule_languages(markdown: str) -> tuple[str, tuple[str, ...]]:
    """(language detected, lists the rules use): the lists of every language with a list that holds a
    third of the text's function words or more (a bilingual meta post is read with both); a text in
    a language without a list is read with the English one."""
    scores = language_scores(prose_text(markdown))
    language = language_of(scores)
    top = max(scores.values(), default=0)
    lists = tuple(code for code in LISTS if top and scores[code] >= max(MIN_HITS, top / 3))
    if language in LISTS and language not in lists:
        lists = (language, *lists)
    return language, lists or (DEFAULT_LIST,)


# --- First person ----------------------------------------------------------------------------------

_OPERATORS_BEFORE_I = "=+*/^<>"
_OPERATORS_AFTER_I = "=+*/^<>(["
# "World War I", "Part I", "Type I", "Phase I": a Roman numeral.
_ROMAN_I = re.compile(
    r"\b(?:War|Part|Type|Phase|Class|Chapter|Book|Volume|Vol\.|Act|Section|Article|Level|Stage|Grade|Henry|"
    r"Charles|Elizabeth|James|George|Louis|Edward|William|Napoleon|Gen|Mark|Series|Appendix|Figure|Table|Unit|"
    r"Round|Season|Episode|Title|Category|Division|Tier|Group|Zone|Schedule|Lecture|Year)\s+$",
)
# "I" as a symbol: "where I is the moment of inertia", "let I be the identity", "I denotes", "I the
# current"; no first-person "I" is followed by these.
_SYMBOL_NEXT = frozenset(
    "is be has does equals denotes represents stands becomes means gives flows increases decreases varies depends "
    "remains contains satisfies commutes acts maps holds times plus minus over the a an of".split()
)
# ... nor preceded by these: "the current I", "the identity matrix I", "the value of I", "let I".
_SYMBOL_BEFORE = frozenset(
    "let current matrix identity intensity integral interval ideal set moment inertia operator index vector "
    "variable function element symbol letter capital called named denote denotes define defines "
    "the an a of to by with from on at into over times".split()
)
_ASKING = frozenset("am was were do did does should could would can will shall may might must have had".split())
_WORD_BEFORE = re.compile(r"([A-Za-z]+)[ \t]*$")
_WORD_AFTER = re.compile(r"[ \t]*([A-Za-z]+)")


def _english_i_is_a_symbol(prose: str, start: int, end: int) -> bool:
    before = prose[max(0, start - 30) : start]
    after = prose[end : end + 30]
    stripped_before, stripped_after = before.rstrip(), after.lstrip()
    if stripped_before[-1:] in tuple(_OPERATORS_BEFORE_I) or stripped_after[:1] in tuple(_OPERATORS_AFTER_I):
        return True  # a variable: "I = V/R", "2*I", "I(x)"
    if stripped_after.startswith(_MATHS_MARK) or stripped_before.endswith(_MATHS_MARK):
        return True  # next to maths: "the current I $= V/R$"
    if _ROMAN_I.search(before):
        return True
    previous = _WORD_BEFORE.search(before)
    previous = previous.group(1).lower() if previous else ""
    if previous in _SYMBOL_BEFORE:
        return True
    if previous in _ASKING:
        return False  # "Am I the only one", "should I be": a question in the first person
    following = _WORD_AFTER.match(after)
    return bool(following and following.group(1) in _SYMBOL_NEXT)


@dataclass(frozen=True)
class Hit:
    """What a rule found: the words and the sentence they are in."""

    found: str
    sentence: str


def first_person_hits(markdown: str, lists: Iterable[str] | None = None) -> list[Hit]:
    """First-person words in the prose of a Markdown text, with their sentences, read with the lists
    of ``lists`` (default: the text's language, see ``rule_languages``)."""
    if lists is None:
        lists = rule_languages(markdown)[1]
    prose = _rule_prose(markdown)
    hits = []
    for code in lists:
        if code == "en":
            for match in _FIRST_PERSON_EN.finditer(prose):
                start, end = match.span()
                if match.group(0) == "I" and _english_i_is_a_symbol(prose, start, end):
                    continue
                if not _in_quotes(prose, start, end):
                    hits.append((start, Hit(match.group(0), _sentence_at(prose, start, end))))
        elif code in _FIRST_PERSON_OTHER_PATTERNS:
            for match in _FIRST_PERSON_OTHER_PATTERNS[code].finditer(prose):
                start, end = match.span()
                if not _in_quotes(prose, start, end):
                    hits.append((start, Hit(match.group(0), _sentence_at(prose, start, end))))
    return [hit for _, hit in sorted(hits, key=lambda item: item[0])]


def first_person_words(markdown: str, lists: Iterable[str] | None = None) -> list[str]:
    """First-person words ("I", "I'm", "my", "me", "myself"; "je", "mon", ... in French) in the prose
    of a Markdown text.

    Words inside code blocks, inline code and maths are not prose, so "I" as a variable there
    does not count; nor does "I" used as a symbol in prose ("I = V/R", "where I is the current",
    "let I be the identity matrix"), as a Roman numeral ("World War I") or in quoted speech."""
    return [hit.found for hit in first_person_hits(markdown, lists)]


# --- References --------------------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern:
    # Whole words only, any run of spaces or newlines between the words of a phrase; ' or ’.
    alternatives = "|".join(
        re.escape(p).replace(r"\ ", r"\s+").replace("'", "['’]") for p in sorted(phrases, key=len, reverse=True)
    )
    return re.compile(r"(?<!\w)(" + alternatives + r")(?!\w)", re.I)


def _normalised(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def reference_hits(
    markdown: str, phrases: Iterable[str] | None = None, *, lists: Iterable[str] | None = None,
    topic: str = "", site_is_topic: bool = False,
) -> list[Hit]:
    """Phrases referring to other answers, the site or the asker, found in the prose, with their
    sentences. ``phrases`` replaces the lists (of ``lists``, default the text's language). A site
    phrase ("Stack Exchange") is no reference where the question (``topic``) names the site too, or
    on a meta site (``site_is_topic``): the answer is then about the site."""
    prose = _rule_prose(markdown)
    if phrases is None:
        lists = rule_languages(markdown)[1] if lists is None else tuple(lists)
        chosen = list(REFERENCE_PHRASES + SITE_PHRASES)
        for code in lists:
            chosen.extend(_OTHER_REFERENCE_PHRASES.get(code, ()))
    else:
        chosen = list(phrases)
    topic_text = _normalised(topic)
    ignored = {p for p in SITE_PHRASES if site_is_topic or (topic_text and p in topic_text)}
    if ignored and {"stack exchange", "stackexchange"} & ignored:
        ignored |= {"stack exchange", "stackexchange"}
    chosen = tuple(dict.fromkeys(p for p in chosen if p not in ignored))
    hits = []
    lowered = _normalised(prose)
    if chosen and any(_normalised(p) in lowered for p in chosen):
        for match in _phrase_pattern(chosen).finditer(prose):
            hits.append((match.start(), Hit(match.group(1), _sentence_at(prose, *match.span()))))
    if phrases is None and "OP" in prose:
        for match in _THE_OP.finditer(prose):
            hits.append((match.start(), Hit(match.group(0).strip(), _sentence_at(prose, *match.span()))))
    return [hit for _, hit in sorted(hits, key=lambda item: item[0])]


def reference_phrases(markdown: str, phrases: Iterable[str] | None = None, **context) -> list[str]:
    """Phrases referring to other answers, the site or the asker, found in the prose."""
    return [hit.found for hit in reference_hits(markdown, phrases, **context)]


# --- Titles ----------------------------------------------------------------------------------------

# A title that points into the body ("What does this code do?", "Why is the following slow?", "Que
# veut dire cette phrase ?") is not self-contained (LIMA.md: "questions that are self-contained in
# the title").
_POINTS_INTO_BODY = re.compile(
    r"(?<!\w)(?:the following|following (?:code|example|sentence|text|snippet|error|output|query|passage)|"
    r"(?:the )?(?:code|example|snippet|sentence|error|text|output|image|picture|diagram|graph) (?:below|above)|"
    r"the above|below|above|this(?! (?:year|month|week|day|morning|evening|time|season|century|decade|way|site)\b)|"
    r"these|ceci|cela|ça|cette|ces|cet|ci-dessous|ci-dessus|suivante?s?)(?!\w)",
    re.I,
)
_QUESTION_START = re.compile(
    r"(?:how|what|why|when|where|which|who|whom|whose|is|are|am|was|were|can|could|should|would|will|shall|"
    r"do|does|did|has|have|had|may|might|must|any|comment|pourquoi|quel|quelle|quels|quelles|que|qu['’]|"
    r"quoi|où|quand|combien|est-ce|peut-on|faut-il|doit-on|y a-t-il)(?!\w)",
    re.I,
)


def title_not_self_contained(title: str, body_markdown: str | Callable[[], str] = "") -> dict | None:
    """Why a question's title cannot stand alone as a prompt, or None when it can:
    ``{"reason": "refers_to_the_body", "found": "the code below"}`` (it points into the body) or
    ``{"reason": "question_in_body"}`` (it asks nothing, and the body does: "Difference between
    espresso and ristretto" over "What is the difference?"). ``body_markdown`` may be a function
    giving it: the body is then made only when the title asks nothing."""
    title = " ".join(title.split())
    if not title:
        return None
    pointer = _POINTS_INTO_BODY.search(title)
    if pointer:
        return {"reason": "refers_to_the_body", "found": pointer.group(0)}
    if "?" in title or _QUESTION_START.match(title) is not None:
        return None
    body = body_markdown() if callable(body_markdown) else body_markdown
    if "?" in prose_text(body):
        return {"reason": "question_in_body"}
    return None


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
    """"I", "my" (and their forms, in the text's language) in prose; code, inline code, maths and "I"
    as a symbol do not count."""
    return "first_person" if first_person_hits(text) else None


def check_references(text: str, phrases=None, **context) -> str | None:
    """Referring to other answers, the site or the asker ("as mentioned", "stack exchange")."""
    return "refers_to_other_answers" if reference_hits(text, phrases, **context) else None


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


@dataclass
class Verdict:
    """A rule's decision on an answer: the reason (None: it passes) and what the rules read and found,
    for the record's metadata (``language``, and for a first-person or reference rejection the list
    used, the words found and the sentence of the first one)."""

    reason: str | None
    detail: dict = field(default_factory=dict)


def _found(rule: str, language: str, lists: tuple[str, ...], hits: list[Hit]) -> dict:
    return {
        "rule": rule, "language": language, "lists": list(lists),
        "found": list(dict.fromkeys(hit.found for hit in hits))[:10], "sentence": hits[0].sentence,
    }


def judge_answer(
    text: str,
    score: int | None = None,
    *,
    min_score: int | None = MIN_ANSWER_SCORE,
    min_chars: int = MIN_ANSWER_CHARS,
    max_chars: int = MAX_ANSWER_CHARS,
    first_person: bool = True,
    references: bool = True,
    rules_text: str | None = None,
    topic: str = "",
    site_is_topic: bool = False,
) -> Verdict:
    """All of LIMA's Stack Exchange rules for one cleaned (Markdown) answer, cheapest first.

    ``min_score=None`` skips the score rule (sources without votes); ``first_person`` /
    ``references`` False skip those rules. ``topic`` is the question (title, body, tags): a site
    name it holds is no reference in the answer; ``site_is_topic`` says the whole site is about the
    site (a meta site). ``rules_text`` is what the first-person and reference rules read when it is
    not ``text`` itself (the answer before its quotes and emphasis were flattened)."""
    if min_score is not None:
        reason = check_score(score, min_score)
        if reason:
            return Verdict(reason)
    reason = check_not_empty(text) or check_length(text, min_chars, max_chars)
    if reason:
        return Verdict(reason)
    if not (first_person or references):
        return Verdict(None)
    read = text if rules_text is None else rules_text
    language, lists = rule_languages(read)
    detail = {"language": language}
    if first_person:
        hits = first_person_hits(read, lists)
        if hits:
            return Verdict("first_person", {**detail, "rule_hits": _found("first_person", language, lists, hits)})
    if references:
        hits = reference_hits(read, lists=lists, topic=topic, site_is_topic=site_is_topic)
        if hits:
            return Verdict(
                "refers_to_other_answers",
                {**detail, "rule_hits": _found("refers_to_other_answers", language, lists, hits)},
            )
    return Verdict(None, detail)


def check_answer(text: str, score: int | None = None, **options) -> str | None:
    """The reason of ``judge_answer`` alone."""
    return judge_answer(text, score, **options).reason
