"""Which language a text is written in, from its commonest words: enough to choose the phrase list of
the first-person and reference rules (``filters``), which exist for English and French.

``detect_language(text) -> str`` returns an ISO 639-1 code ("en", "fr", "de", "es", "it", "pt", "nl")
or "und" (undetermined: too few words, or no language clearly ahead). Only the languages listed
here can be told; a text in another one is "und". No dependency: a few dozen function words per
language tell these apart on a paragraph (Stack Exchange answers are 1,200 characters or more), and
the result is the same on every machine.
"""

from __future__ import annotations

import re
from collections import Counter

# The commonest function words, chosen to be rare in the other languages of the list ("a", "de",
# "la", "in", "die" are shared, and left out).
STOPWORDS = {
    "en": "the and of to is that it for with as was on be are this by not or have from but which you they "
          "an at can if has would there their will what all when been more one so also its than these some".split(),
    "fr": "le les et des est une que qui pas pour dans sur au du ce il elle sont avec mais ou cette aux ne "
          "se son sa ses nous vous leur être été fait comme très aussi donc peut tout bien".split(),
    "de": "der die und ist nicht das ich sie es ein eine zu den mit sich auf dem auch wird sind von "
          "bei nach wie oder aber wenn noch nur kann dass wir hat".split(),
    "es": "el los las y que del por con una para es su al lo como pero sus ya muy sin sobre "
          "también hay entre cuando está ser".split(),
    "it": "di che è per una sono del della con gli anche più alla nel questo questa delle dei ha essere "
          "sulla nella degli".split(),
    "pt": "o os que e em um para é com não uma dos na por mais das como mas foi ao ele isso "
          "também são está".split(),
    "nl": "het een van dat niet zijn voor met ook maar bij wordt hij aan nog wel kan".split(),
}
_INDEX: dict[str, list[str]] = {}
for _code, _words in STOPWORDS.items():
    for _word in _words:
        _INDEX.setdefault(_word, []).append(_code)

# Letters only: "l'eau", "qu'il", "d'un" count as their second word, as French elision means.
_WORD = re.compile(r"[^\W\d_]+")
MIN_HITS = 3  # fewer function words than this: "und" (an answer of 1,200 characters holds ~60)
LEAD = 1.5  # the first language must have this many times the hits of the second


def language_scores(text: str) -> Counter:
    """How many of each language's function words the text holds."""
    scores: Counter = Counter()
    for word, count in Counter(_WORD.findall(text.lower())).items():
        for code in _INDEX.get(word, ()):
            scores[code] += count
    return scores


def language_of(scores: Counter) -> str:
    """The language ``language_scores`` point to, or "und"."""
    ranked = scores.most_common(2)
    if not ranked or ranked[0][1] < MIN_HITS:
        return "und"
    if len(ranked) > 1 and ranked[0][1] < LEAD * ranked[1][1]:
        return "und"
    return ranked[0][0]


def detect_language(text: str) -> str:
    """The language of ``text`` ("en", "fr", ...) or "und" when it cannot be told."""
    return language_of(language_scores(text))
