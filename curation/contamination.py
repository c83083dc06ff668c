"""Dev/test prompts that leak into train: exact repeats and 13-gram overlaps. Pure: plain texts in, pairs out.

A dev or test prompt is *contaminated* when train already holds it:
- ``exact``: a train prompt is the same text once case, punctuation and spacing are ignored;
- ``near``: it shares at least one run of N consecutive words (N = 13, the n-gram length GPT-3's
  contamination study used, Brown et al. 2020 §4) with any train turn, prompt or response: a test
  question quoted inside a train answer leaks too.

Prompts shorter than N words have no N-gram; they are only checked for exact repeats, since a short
phrase ("How do I cook rice?") turning up inside a long answer says little.

The index is built over the dev/test prompts (a few hundred in LIMA) and train is streamed past it,
so memory grows with the evaluation set, never with train.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

NGRAM = 13
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Overlap:
    """One warning: the evaluation prompt `eval_key` (of `eval_split`) appears in the train example `train_key`."""

    eval_key: object
    eval_split: str
    train_key: object
    kind: str  # "exact" or "near"
    shared_ngrams: int  # how many of the prompt's distinct n-grams train holds (0 for exact)
    prompt_ngrams: int  # how many distinct n-grams the prompt has
    snippet: str  # the first shared run of words, for people to see

    @property
    def ratio(self):
        return self.shared_ngrams / self.prompt_ngrams if self.prompt_ngrams else 1.0


def words(text: str) -> list[str]:
    """Lower-cased word tokens: punctuation, markup and spacing do not hide a repeat."""
    return _WORD.findall(text.lower())


def normalised(text: str) -> str:
    return " ".join(words(text))


def ngrams(tokens: list[str], n: int = NGRAM) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


class OverlapFinder:
    """Index the evaluation prompts once, then scan train conversations one at a time."""

    def __init__(self, eval_prompts: Iterable[tuple[object, str, str]], n: int = NGRAM):
        """eval_prompts: (key, split, prompt text) for every dev/test example."""
        self.n = n
        self.by_text: dict[str, list[tuple[object, str]]] = {}
        self.by_ngram: dict[tuple[str, ...], list[tuple[object, str]]] = {}
        self.ngram_count: dict[object, int] = {}
        for key, split, prompt in eval_prompts:
            tokens = words(prompt)
            if not tokens:
                continue
            self.by_text.setdefault(" ".join(tokens), []).append((key, split))
            grams = ngrams(tokens, n)
            self.ngram_count[key] = len(grams)
            for gram in grams:
                self.by_ngram.setdefault(gram, []).append((key, split))
        # Only windows starting with a word that starts some evaluation n-gram can match: skip the rest cheaply.
        self.first_words = {gram[0] for gram in self.by_ngram}
        self.found: dict[tuple[object, object], Overlap] = {}

    @property
    def active(self):
        """False when there is nothing to look for (no dev/test prompts): scanning can be skipped."""
        return bool(self.by_text)

    def scan(self, train_key, turns: list[str]):
        """Look for the evaluation prompts in one train conversation (its prompt and its responses)."""
        if not turns or not self.by_text:
            return
        n = self.n
        exact_keys = set()
        for eval_key, split in self.by_text.get(normalised(turns[0]), ()):
            exact_keys.add(eval_key)
            self.found[(eval_key, train_key)] = Overlap(
                eval_key, split, train_key, "exact", 0, self.ngram_count[eval_key], ""
            )
        if not self.by_ngram:
            return
        shared: dict[tuple[object, str], dict] = {}  # dicts keep the first shared n-gram first
        for text in turns:
            tokens = words(text)
            for i in range(len(tokens) - n + 1):
                if tokens[i] not in self.first_words:
                    continue
                gram = tuple(tokens[i:i + n])
                for eval_key, split in self.by_ngram.get(gram, ()):
                    if eval_key not in exact_keys:
                        shared.setdefault((eval_key, split), {})[gram] = None
        for (eval_key, split), grams in shared.items():
            self.found[(eval_key, train_key)] = Overlap(
                eval_key, split, train_key, "near", len(grams), self.ngram_count[eval_key], " ".join(next(iter(grams)))
            )

    def overlaps(self) -> list[Overlap]:
        """Every pair found, exact ones first, then by the share of the prompt's n-grams found in train."""
        return sorted(
            self.found.values(), key=lambda o: (o.kind != "exact", -o.ratio, str(o.eval_key), str(o.train_key))
        )


def find_overlaps(
    eval_prompts: Iterable[tuple[object, str, str]],
    train_conversations: Iterable[tuple[object, list[str]]],
    n: int = NGRAM,
) -> list[Overlap]:
    """Warnings for every (evaluation prompt, train example) pair that overlaps, exact ones first.

    eval_prompts: (key, split, prompt text); train_conversations: (key, [turn texts], user first).
    Each pair is reported once, as ``exact`` when the train prompt is the same text, else ``near``.
    """
    finder = OverlapFinder(eval_prompts, n)
    if finder.active:
        for train_key, turns in train_conversations:
            finder.scan(train_key, turns)
    return finder.overlaps()
