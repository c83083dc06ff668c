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
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import repeat

import numpy as np

NGRAM = 13
BATCH_WORDS = 200_000  # train words hashed per numpy pass
_POWER = np.uint64(1_000_003)  # base of the rolling hash; any odd number far above the vocabulary size
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
        # Train is scanned with numpy: each word becomes its id in the evaluation vocabulary (0 elsewhere), each
        # window of n ids a polynomial hash (mod 2**64); only windows whose hash is an evaluation n-gram's are
        # compared word by word. Pure-Python windows cost a minute per 100,000 train conversations.
        self.vocabulary = {word: i + 1 for i, word in enumerate(sorted({w for gram in self.by_ngram for w in gram}))}
        self.powers = _POWER ** np.arange(n - 1, -1, -1, dtype=np.uint64)
        hashes = {self._gram_hash(gram) for gram in self.by_ngram}
        self.gram_hashes = np.array(sorted(hashes), dtype=np.uint64)
        self.found: dict[tuple[object, object], Overlap] = {}  # exact repeats
        self.shared: dict[tuple[object, object], tuple[str, dict]] = {}  # n-grams shared, first found first
        self.pending: list[tuple[object, list[str]]] = []
        self.pending_words = 0

    def _gram_hash(self, gram):
        return int(np.asarray([self.vocabulary[word] for word in gram], dtype=np.uint64) @ self.powers)

    @property
    def active(self):
        """False when there is nothing to look for (no dev/test prompts): scanning can be skipped."""
        return bool(self.by_text)

    def scan(self, train_key, turns: list[str]):
        """Look for the evaluation prompts in one train conversation (its prompt and its responses).

        Exact repeats are found at once; n-gram overlaps in batches of conversations (see overlaps())."""
        if not turns or not self.by_text:
            return
        for eval_key, split in self.by_text.get(normalised(turns[0]), ()):
            self.found[(eval_key, train_key)] = Overlap(
                eval_key, split, train_key, "exact", 0, self.ngram_count[eval_key], ""
            )
        if not self.by_ngram:
            return
        for text in turns:
            tokens = words(text)
            if len(tokens) >= self.n:
                self.pending.append((train_key, tokens))
                self.pending_words += len(tokens)
        if self.pending_words >= BATCH_WORDS:
            self._scan_pending()

    def _scan_pending(self):
        """One numpy pass over the pending texts, laid end to end with an empty word between them (id 0, and no
        evaluation n-gram holds it, so no window across two texts can match)."""
        if not self.pending:
            return
        n = self.n
        tokens, starts, owners = [], [], []
        for train_key, text_tokens in self.pending:
            starts.append(len(tokens))
            owners.append(train_key)
            tokens.extend(text_tokens)
            tokens.append("")
        self.pending, self.pending_words = [], 0
        ids = np.fromiter(map(self.vocabulary.get, tokens, repeat(0)), dtype=np.uint64, count=len(tokens))
        hashes = np.lib.stride_tricks.sliding_window_view(ids, n) @ self.powers
        slots = np.minimum(np.searchsorted(self.gram_hashes, hashes), len(self.gram_hashes) - 1)
        for i in np.flatnonzero(self.gram_hashes[slots] == hashes).tolist():
            gram = tuple(tokens[i:i + n])
            train_key = owners[bisect_right(starts, i) - 1]
            for eval_key, split in self.by_ngram.get(gram, ()):  # empty on a hash collision
                self.shared.setdefault((eval_key, train_key), (split, {}))[1][gram] = None

    def overlaps(self) -> list[Overlap]:
        """Every pair found, exact ones first, then by the share of the prompt's n-grams found in train."""
        self._scan_pending()
        found = dict(self.found)
        for (eval_key, train_key), (split, grams) in self.shared.items():
            if (eval_key, train_key) not in found:  # an exact repeat is reported as such
                found[(eval_key, train_key)] = Overlap(
                    eval_key, split, train_key, "near", len(grams), self.ngram_count[eval_key],
                    " ".join(next(iter(grams))),
                )
        return sorted(found.values(), key=lambda o: (o.kind != "exact", -o.ratio, str(o.eval_key), str(o.train_key)))


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
