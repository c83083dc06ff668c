"""Statistics of human evaluation: pairwise win/tie/loss, annotator agreement, rating shares.

Pure Python + numpy; the Django side turns its rows into the records below and renders the
results (stacked bars like LIMA's Figure 1, CSV/JSON downloads).

Pairwise labels are recorded from the annotator's view: "A" (left is better), "B" (right is
better) or "tie" (neither is significantly better), together with which model was shown on
which side. `outcome` turns such a label into win/tie/loss for one model of the pair.

Confidence intervals (95 % by default) are percentile bootstrap intervals over items:
resample the items (a prompt for one model pair, or a rated response) with replacement,
n_resamples times, taking along every label of each drawn item, recompute the shares, and
report the 2.5th and 97.5th percentiles (numpy's linear interpolation). Resampling items
rather than single labels keeps the several annotators of one item together, so an item
labelled by three people does not count as three independent observations. The generator is
seeded, so the same labels give the same interval.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

LABELS = ("A", "B", "tie")
OUTCOMES = ("win", "tie", "loss")
RATINGS = ("Fail", "Pass", "Excellent")  # LIMA's absolute scale (LIMA.md, Evaluation)

N_RESAMPLES = 10_000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Comparison:
    """One annotator's label on one item: a prompt and the responses of two models."""

    item: Hashable  # the unit the bootstrap resamples; the same id for every annotator
    annotator: Hashable
    model_a: str  # shown on the left, as "A"
    model_b: str  # shown on the right, as "B"
    label: str  # "A", "B" or "tie"


@dataclass(frozen=True)
class Rating:
    """One annotator's Fail / Pass / Excellent on one response."""

    item: Hashable
    annotator: Hashable
    label: str
    model: str = ""


@dataclass(frozen=True)
class Share:
    """A percentage with its bootstrap confidence interval, all in percent."""

    percent: float
    low: float
    high: float


@dataclass(frozen=True)
class PairResult:
    """Win/tie/loss of `model` against `other`, as in LIMA's Figure 1."""

    model: str
    other: str
    n_items: int
    n_labels: int
    win: Share
    tie: Share
    loss: Share


@dataclass(frozen=True)
class PairAgreement:
    annotator_1: Hashable
    annotator_2: Hashable
    n_items: int  # items labelled by both
    accuracy: float  # tie-discounted accuracy, 0..1


@dataclass(frozen=True)
class Agreement:
    pairs: list[PairAgreement]
    mean: float | None  # unweighted mean over annotator pairs sharing at least one item


@dataclass(frozen=True)
class RatingPairAgreement:
    annotator_1: Hashable
    annotator_2: Hashable
    n_items: int  # items rated by both
    accuracy: float  # exact agreement, 0..1
    kappa: float | None  # Cohen's kappa; None where chance agreement is already 1 (one label throughout)


@dataclass(frozen=True)
class RatingAgreement:
    pairs: list[RatingPairAgreement]
    mean: float | None  # mean exact agreement over annotator pairs sharing at least one item
    kappa: float | None  # Light's kappa: the mean of the pairs' Cohen's kappas, where defined


@dataclass(frozen=True)
class RatingShares:
    n_items: int
    n_labels: int
    shares: dict[str, Share]  # keyed by RATINGS


def outcome(label: str, swapped: bool) -> str:
    """Win/tie/loss for the pair's first model, given the annotator's label.

    `swapped` is False when the first model was shown as A (left), True when it was shown as B.
    """
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    if label == "tie":
        return "tie"
    first_won = (label == "A") != swapped
    return "win" if first_won else "loss"


def outcome_for(comparison: Comparison, model: str) -> str:
    """Win/tie/loss for `model`, which must be one of the two models compared."""
    if model == comparison.model_a:
        return outcome(comparison.label, swapped=False)
    if model == comparison.model_b:
        return outcome(comparison.label, swapped=True)
    raise ValueError(
        f"item {comparison.item!r}: model {model!r} is neither "
        f"{comparison.model_a!r} nor {comparison.model_b!r}"
    )


def bootstrap_shares(
    counts: np.ndarray,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> list[Share]:
    """Shares of each column of per-item label counts, with percentile bootstrap intervals.

    counts: (items, categories), how many labels of each category every item received.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] == 0:
        raise ValueError("need a non-empty (items, categories) count matrix")
    total = counts.sum()
    if total == 0:
        raise ValueError("no labels to count")
    point = 100.0 * counts.sum(axis=0) / total

    rng = np.random.default_rng(seed)
    n_items = counts.shape[0]
    draws = rng.integers(0, n_items, size=(n_resamples, n_items))  # (resamples, items)
    resampled = counts[draws].sum(axis=1)  # (resamples, categories)
    per_resample_total = resampled.sum(axis=1, keepdims=True)
    # A resample can draw only unlabelled items in degenerate inputs; it carries no share.
    valid = per_resample_total[:, 0] > 0
    percents = 100.0 * resampled[valid] / per_resample_total[valid]  # (valid resamples, categories)
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(percents, [tail, 100.0 - tail], axis=0)
    return [Share(float(p), float(lo), float(hi)) for p, lo, hi in zip(point, low, high)]


def win_tie_loss(
    comparisons: Iterable[Comparison],
    model: str,
    other: str,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> PairResult:
    """Win/tie/loss percentages of `model` against `other` over every label of that pair."""
    per_item: dict[Hashable, list[int]] = {}
    for c in comparisons:
        if {c.model_a, c.model_b} != {model, other}:
            continue
        counts = per_item.setdefault(c.item, [0, 0, 0])
        counts[OUTCOMES.index(outcome_for(c, model))] += 1
    if not per_item:
        raise ValueError(f"no comparisons between {model!r} and {other!r}")
    matrix = np.array(list(per_item.values()))
    win, tie, loss = bootstrap_shares(matrix, n_resamples, seed, confidence)
    return PairResult(model, other, len(per_item), int(matrix.sum()), win, tie, loss)


def pairwise_results(
    comparisons: Iterable[Comparison],
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> list[PairResult]:
    """One PairResult per model pair, from the view of the pair's first model by name."""
    comparisons = list(comparisons)
    pairs = sorted({tuple(sorted((c.model_a, c.model_b))) for c in comparisons})
    return [
        win_tie_loss(comparisons, model, other, n_resamples, seed, confidence)
        for model, other in pairs
    ]


def tie_discounted_score(outcome_1: str, outcome_2: str) -> float:
    """LIMA's agreement score of two labels of one item (LIMA.md, Evaluation):
    1 for the same label, 0.5 where exactly one of the two said tie, 0 otherwise."""
    if outcome_1 == outcome_2:
        return 1.0
    if "tie" in (outcome_1, outcome_2):
        return 0.5
    return 0.0


def agreement(comparisons: Iterable[Comparison]) -> Agreement:
    """Tie-discounted accuracy for every annotator pair over the items both labelled.

    Labels are compared as outcomes for the alphabetically first model of the item's pair, so two
    annotators who saw the responses in different left/right orders are compared correctly.
    """
    by_annotator: dict[Hashable, dict[tuple, str]] = {}
    for c in comparisons:
        first, second = sorted((c.model_a, c.model_b))
        key = (c.item, first, second)
        labelled = by_annotator.setdefault(c.annotator, {})
        if key in labelled:
            raise ValueError(f"annotator {c.annotator!r} labelled item {c.item!r} twice")
        labelled[key] = outcome_for(c, first)

    pairs = []
    for a1, a2 in itertools.combinations(sorted(by_annotator, key=str), 2):
        shared = by_annotator[a1].keys() & by_annotator[a2].keys()
        if not shared:
            continue
        scores = [tie_discounted_score(by_annotator[a1][i], by_annotator[a2][i]) for i in shared]
        pairs.append(PairAgreement(a1, a2, len(shared), sum(scores) / len(scores)))
    mean = sum(p.accuracy for p in pairs) / len(pairs) if pairs else None
    return Agreement(pairs, mean)


def rating_shares(
    ratings: Sequence[Rating],
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> RatingShares:
    """Fail / Pass / Excellent shares of the given ratings (e.g. one model's), with intervals."""
    per_item: dict[Hashable, list[int]] = {}
    for r in ratings:
        if r.label not in RATINGS:
            raise ValueError(f"item {r.item!r}: rating must be one of {RATINGS}, got {r.label!r}")
        per_item.setdefault(r.item, [0, 0, 0])[RATINGS.index(r.label)] += 1
    if not per_item:
        raise ValueError("no ratings")
    matrix = np.array(list(per_item.values()))
    shares = bootstrap_shares(matrix, n_resamples, seed, confidence)
    return RatingShares(len(per_item), int(matrix.sum()), dict(zip(RATINGS, shares)))


def rating_shares_by_model(
    ratings: Iterable[Rating],
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> dict[str, RatingShares]:
    by_model: dict[str, list[Rating]] = {}
    for r in ratings:
        by_model.setdefault(r.model, []).append(r)
    return {
        model: rating_shares(rs, n_resamples, seed, confidence)
        for model, rs in sorted(by_model.items())
    }


def cohen_kappa(labels_1: Sequence[str], labels_2: Sequence[str]) -> float | None:
    """Cohen's kappa of two annotators' labels of the same items (in the same order):
    (p_o - p_e) / (1 - p_e), p_o the share of items with the same label, p_e the share expected by chance
    from each annotator's own label frequencies. None where p_e is 1 (both gave one and the same label to
    every item): agreement is then total but says nothing beyond chance."""
    if len(labels_1) != len(labels_2) or not labels_1:
        raise ValueError("need two equally long, non-empty label sequences")
    n = len(labels_1)
    observed = sum(a == b for a, b in zip(labels_1, labels_2)) / n
    expected = sum(labels_1.count(label) * labels_2.count(label) for label in set(labels_1)) / (n * n)
    if expected == 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def rating_agreement(ratings: Iterable[Rating]) -> RatingAgreement:
    """Exact agreement and Cohen's kappa for every annotator pair over the items both rated."""
    by_annotator: dict[Hashable, dict[Hashable, str]] = {}
    for r in ratings:
        labelled = by_annotator.setdefault(r.annotator, {})
        if r.item in labelled:
            raise ValueError(f"annotator {r.annotator!r} rated item {r.item!r} twice")
        labelled[r.item] = r.label

    pairs = []
    for a1, a2 in itertools.combinations(sorted(by_annotator, key=str), 2):
        shared = sorted(by_annotator[a1].keys() & by_annotator[a2].keys(), key=str)
        if not shared:
            continue
        first = [by_annotator[a1][i] for i in shared]
        second = [by_annotator[a2][i] for i in shared]
        same = sum(a == b for a, b in zip(first, second)) / len(shared)
        pairs.append(RatingPairAgreement(a1, a2, len(shared), same, cohen_kappa(first, second)))
    mean = sum(p.accuracy for p in pairs) / len(pairs) if pairs else None
    kappas = [p.kappa for p in pairs if p.kappa is not None]
    return RatingAgreement(pairs, mean, sum(kappas) / len(kappas) if kappas else None)
