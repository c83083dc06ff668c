"""Study analytics beyond win/tie/loss, for people's labels and a judge's verdicts alike (pure: numpy, no Django).

- Length-controlled win rate (AlpacaEval 2, Dubois et al. 2024): a logistic model of "model beats other" on
  the responses' length difference, read at zero difference. AlpacaEval found that always preferring the
  longer answer agrees with people 62 % of the time, so a raw win rate partly measures verbosity.
- Bradley–Terry strengths of several runs from their pairwise outcomes (Hunter's MM algorithm), with
  percentile bootstrap intervals over prompts (Chatbot Arena's method), and whether the top of the ranking
  is clear or a tie within its interval.
- How many prompts an interval of ±5 points needs at the observed rates.
- Agreement of ordinal ratings: weighted Cohen's kappa per pair of annotators and Fleiss' kappa.
- Judge-free checks of a generation run: stopped at EOT, cut at the token limit, mean length.

Ties count as half a win in both the win rate and Bradley–Terry (LIMA's "neither is significantly better"
carries information: dropping them would inflate every difference).
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

POINTS = {"win": 1.0, "tie": 0.5, "loss": 0.0}
Z_95 = 1.959964
MARGIN = 5.0  # points: the sample-size hint's half-width
ELO_SCALE, ELO_BASE = 400.0, 1000.0  # Chatbot Arena's display scale for Bradley–Terry strengths


# --- Length-controlled win rate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One label (or verdict) of one item, from `model`'s side against `other`."""

    item: Hashable  # the unit the bootstrap resamples (a prompt)
    outcome: str  # "win", "tie" or "loss" for model
    model_length: int
    other_length: int


@dataclass(frozen=True)
class LengthControlled:
    raw: float  # percent: wins plus half the ties
    controlled: float  # percent: the fitted win probability at zero length difference
    low: float  # bootstrap interval of `controlled`
    high: float
    length_weight: float  # the fitted coefficient of the length term (> 0: the longer answer is preferred)
    n_items: int
    n_labels: int


def length_feature(model_lengths: np.ndarray, other_lengths: np.ndarray) -> np.ndarray:
    """AlpacaEval 2's length term: tanh(difference / its standard deviation), bounded in (-1, 1) so a few
    very long answers cannot dominate the fit. Any length unit; zero difference gives 0."""
    difference = np.asarray(model_lengths, float) - np.asarray(other_lengths, float)
    spread = difference.std()
    return np.tanh(difference / spread) if spread > 0 else np.zeros_like(difference)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iterations: int = 50) -> tuple[float, float]:
    """Intercept and slope of P(y) = sigmoid(a + b·x) by Newton's method; y may be fractional (a tie is 0.5).
    The small L2 penalty keeps both finite when the data are separable (every label a win)."""
    design = np.column_stack([np.ones_like(x), x])  # (n, 2)
    theta = np.zeros(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-design @ theta))
        gradient = design.T @ (p - y) + l2 * theta * len(y)
        hessian = (design * (p * (1 - p))[:, None]).T @ design + l2 * len(y) * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(theta[0]), float(theta[1])


def length_controlled_win_rate(
    outcomes: Sequence[Outcome], n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95,
) -> LengthControlled:
    """The raw win rate and the length-controlled one (intercept of the logistic model, at zero difference),
    with a percentile bootstrap interval over items for the latter."""
    if not outcomes:
        raise ValueError("no outcomes")
    for o in outcomes:
        if o.outcome not in POINTS:
            raise ValueError(f"item {o.item!r}: outcome must be win, tie or loss, got {o.outcome!r}")
    y = np.array([POINTS[o.outcome] for o in outcomes])
    x = length_feature(np.array([o.model_length for o in outcomes]), np.array([o.other_length for o in outcomes]))
    intercept, slope = fit_logistic(x, y)

    items = sorted({o.item for o in outcomes}, key=str)
    rows_of: dict[Hashable, list[int]] = {}
    for index, o in enumerate(outcomes):
        rows_of.setdefault(o.item, []).append(index)
    groups = [np.array(rows_of[item]) for item in items]
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(n_resamples):
        rows = np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])
        a, _ = fit_logistic(x[rows], y[rows], iterations=20)
        estimates.append(_sigmoid(a))
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(estimates, [tail, 100 - tail]) if estimates else (math.nan, math.nan)
    return LengthControlled(
        raw=100 * float(y.mean()), controlled=100 * _sigmoid(intercept), low=100 * float(low), high=100 * float(high),
        length_weight=slope, n_items=len(items), n_labels=len(outcomes),
    )


def _sigmoid(value: float) -> float:
    return float(1.0 / (1.0 + math.exp(-value)))


# --- Bradley–Terry ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """One label (or verdict) between two runs on one prompt: `outcome` is for `first`."""

    item: Hashable  # the prompt: the bootstrap resamples prompts, with every match of a drawn prompt
    first: str
    second: str
    outcome: str  # win / tie / loss


@dataclass(frozen=True)
class Strength:
    model: str
    rating: float  # Elo-like: 400·log10(strength) + 1000, the strengths' geometric mean at 1000
    low: float
    high: float
    n_matches: int


@dataclass(frozen=True)
class Ranking:
    strengths: list[Strength]  # best first
    clear: bool  # the first is ahead of the second in at least `confidence` of the resamples
    top_share: float  # share of resamples in which the first run is ahead of the second (1.0 with one run)


def bradley_terry(wins: np.ndarray, prior: float = 1.0, iterations: int = 100, tol: float = 1e-9) -> np.ndarray:
    """Strengths p (geometric mean 1) maximising the Bradley–Terry likelihood, P(i beats j) = p_i / (p_i + p_j).

    wins: (models, models), wins[i, j] = times i beat j (a tie is half a win each way). `prior` adds that many
    virtual ties between every pair (half a win each way): a run that won everything keeps a finite strength,
    runs never compared stay comparable (at equal strength), and a handful of labels cannot give a rating
    gap of thousands of points. The log-likelihood in log-strengths is then strictly concave: Newton's method
    (its Hessian is a weighted graph Laplacian) reaches the maximum in a few steps, where Hunter's (2004) MM
    update takes thousands on lopsided data; a step that lowers the likelihood is halved.
    """
    wins = np.asarray(wins, float)
    k = wins.shape[0]
    if k == 1:
        return np.ones(1)
    wins = wins + prior / 2 * (1 - np.eye(k))
    games = wins + wins.T  # (models, models)
    won = wins.sum(axis=1)
    theta = np.zeros(k)

    def loglik(t):
        d = t[:, None] - t[None, :]  # (models, models)
        return float((wins * -np.logaddexp(0.0, -d)).sum())

    current = loglik(theta)
    for _ in range(iterations):
        chance = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # P(i beats j)
        gradient = won - (games * chance).sum(axis=1)
        weight = games * chance * (1 - chance)
        laplacian = np.diag(weight.sum(axis=1)) - weight
        step = np.linalg.solve(laplacian + np.ones((k, k)) / k, gradient)  # the ones fix the mean's freedom
        scale = 1.0
        while True:
            candidate = theta + scale * step
            candidate -= candidate.mean()
            found = loglik(candidate)
            if found >= current - 1e-12 or scale < 1e-6:
                break
            scale /= 2
        theta, current = candidate, found
        if np.abs(scale * step).max() < tol:
            break
    return np.exp(theta)


def rank_runs(
    matches: Sequence[Match], models: Sequence[str], n_resamples: int = 1000, seed: int = 0,
    confidence: float = 0.95,
) -> Ranking:
    """Bradley–Terry ratings of `models` with percentile bootstrap intervals over prompts, best first."""
    models = list(models)
    index = {model: i for i, model in enumerate(models)}
    for m in matches:
        if m.outcome not in POINTS:
            raise ValueError(f"item {m.item!r}: outcome must be win, tie or loss, got {m.outcome!r}")
        if m.first not in index or m.second not in index:
            raise ValueError(f"item {m.item!r}: {m.first!r} or {m.second!r} is not one of the ranked runs")
    items = sorted({m.item for m in matches}, key=str)
    position = {item: i for i, item in enumerate(items)}
    per_item = np.zeros((len(items), len(models), len(models)))  # (prompts, models, models): each prompt's wins
    counts = np.zeros(len(models), int)
    for m in matches:
        i, j, points = index[m.first], index[m.second], POINTS[m.outcome]
        per_item[position[m.item], i, j] += points
        per_item[position[m.item], j, i] += 1 - points
        counts[[i, j]] += 1
    ratings = _ratings(bradley_terry(per_item.sum(axis=0)))

    rng = np.random.default_rng(seed)
    samples = np.array([_ratings(bradley_terry(per_item[rng.integers(0, len(items), len(items))].sum(axis=0)))
                        for _ in range(n_resamples if items else 0)]).reshape(-1, len(models))
    return _ranking(models, ratings, samples, counts, confidence, bool(matches))


def rank_by_points(
    rows: Sequence[tuple[Hashable, str, float]], models: Sequence[str], n_resamples: int = 1000, seed: int = 0,
    confidence: float = 0.95,
) -> Ranking:
    """Runs ranked by their mean points (a rating study: Fail 0, Pass ½, Excellent 1), in percent, from
    (prompt, model, points) rows, with percentile bootstrap intervals over prompts (a drawn prompt brings
    every run's labels on it, so the runs' resampled means stay paired)."""
    models = list(models)
    index = {model: i for i, model in enumerate(models)}
    items = sorted({item for item, _, _ in rows}, key=str)
    position = {item: i for i, item in enumerate(items)}
    sums = np.zeros((len(items), len(models)))
    ns = np.zeros((len(items), len(models)))
    for item, model, points in rows:
        sums[position[item], index[model]] += points
        ns[position[item], index[model]] += 1

    def means(drawn_sums, drawn_ns):
        total = drawn_ns.sum(axis=0)
        return np.where(total > 0, 100 * drawn_sums.sum(axis=0) / np.maximum(total, 1), -np.inf)

    point = means(sums, ns)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_resamples if items else 0):
        drawn = rng.integers(0, len(items), len(items))
        samples.append(means(sums[drawn], ns[drawn]))
    samples = np.array(samples).reshape(-1, len(models))
    return _ranking(models, point, samples, ns.sum(axis=0).astype(int), confidence, bool(rows), unrated=-np.inf)


def _ranking(models, point, samples, counts, confidence, any_label, unrated=None) -> Ranking:
    tail = 100 * (1 - confidence) / 2
    order = sorted(range(len(models)), key=lambda i: (-point[i], models[i]))
    strengths = []
    for i in order:
        column = samples[:, i] if len(samples) else np.array([point[i]])
        column = column[np.isfinite(column)]
        low, high = np.percentile(column, [tail, 100 - tail]) if len(column) else (math.nan, math.nan)
        rating = float(point[i]) if np.isfinite(point[i]) else math.nan
        strengths.append(Strength(models[i], rating, float(low), float(high), int(counts[i])))
    if len(models) < 2:
        return Ranking(strengths, clear=any_label, top_share=1.0)
    first, second = order[0], order[1]
    top_share = float((samples[:, first] > samples[:, second]).mean()) if len(samples) else 0.0
    clear = any_label and point[first] > point[second] and top_share >= confidence
    return Ranking(strengths, clear=bool(clear), top_share=top_share)


def _ratings(p: np.ndarray) -> np.ndarray:
    return ELO_SCALE * np.log10(p) + ELO_BASE


# --- How many prompts -------------------------------------------------------------------------------------


def prompts_needed(percents: Iterable[float], margin: float = MARGIN, z: float = Z_95) -> int:
    """Prompts for a ±margin-point 95 % interval on each of the given shares (percent), at their observed
    values: n = z² p (1 − p) / margin², the widest share deciding (the normal approximation of a binomial
    share; with one label per prompt). No share observed yet: the worst case, p = ½ (385 prompts for ±5)."""
    shares = [p / 100 for p in percents]
    worst = max((p * (1 - p) for p in shares), default=0.25)
    if not shares:
        worst = 0.25
    return max(1, math.ceil(z * z * worst / (margin / 100) ** 2))


# --- Agreement of ordinal ratings ---------------------------------------------------------------------------


def weighted_kappa(labels_1: Sequence[str], labels_2: Sequence[str], categories: Sequence[str],
                   weights: str = "linear") -> float | None:
    """Cohen's weighted kappa (Cohen 1968) of two annotators on the same items, for ordered `categories`:
    1 − Σ w·observed / Σ w·expected, the disagreement weight w = |i − j| / (k − 1) ("linear") or its square
    ("quadratic"), so Fail against Excellent costs more than Fail against Pass. None where no disagreement
    is expected by chance (both gave one and the same label throughout)."""
    if len(labels_1) != len(labels_2) or not labels_1:
        raise ValueError("need two equally long, non-empty label sequences")
    index = {label: i for i, label in enumerate(categories)}
    k = len(categories)
    observed = np.zeros((k, k))
    for a, b in zip(labels_1, labels_2):
        if a not in index or b not in index:
            raise ValueError(f"labels must be among {list(categories)}, got {a!r} and {b!r}")
        observed[index[a], index[b]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k))) / max(k - 1, 1)
    w = distance ** 2 if weights == "quadratic" else distance
    chance = (w * expected).sum()
    if chance == 0:
        return None
    return float(1 - (w * observed).sum() / chance)


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' kappa (Fleiss 1971) from (items, categories) counts of labels, the same number of raters on
    every item (items with another number must be left out by the caller). None where chance agreement is 1."""
    counts = np.asarray(counts, float)
    if counts.ndim != 2 or counts.shape[0] == 0:
        raise ValueError("need a non-empty (items, categories) count matrix")
    raters = counts.sum(axis=1)
    if raters.min() != raters.max() or raters[0] < 2:
        raise ValueError("Fleiss' kappa needs the same number (at least 2) of raters on every item")
    n = raters[0]
    per_item = ((counts * (counts - 1)).sum(axis=1)) / (n * (n - 1))
    observed = per_item.mean()
    shares = counts.sum(axis=0) / counts.sum()
    chance = float((shares ** 2).sum())
    if chance >= 1.0:
        return None
    return float((observed - chance) / (1 - chance))


def rating_counts(ratings: Iterable[tuple[Hashable, str]], categories: Sequence[str]) -> tuple[np.ndarray, int]:
    """(items, categories) counts for Fleiss' kappa, from (item, label) pairs: only the items with the most
    common number of raters (at least 2) are kept. Returns the matrix and that number of raters."""
    per_item: dict[Hashable, list[int]] = {}
    for item, label in ratings:
        per_item.setdefault(item, [0] * len(categories))[list(categories).index(label)] += 1
    sizes = [sum(row) for row in per_item.values() if sum(row) >= 2]
    if not sizes:
        return np.zeros((0, len(categories))), 0
    common = max(set(sizes), key=lambda s: (sizes.count(s), s))
    rows = [row for row in per_item.values() if sum(row) == common]
    return np.array(rows, float), common


# --- Judge-free checks of a generation run ----------------------------------------------------------------


@dataclass(frozen=True)
class RunChecks:
    n: int
    stopped: float | None  # share that ended with EOT, 0..1 (None: not recorded for any response)
    cut: float | None  # share that reached the token limit
    empty: float  # share of empty responses
    mean_length: float  # in the caller's unit (the pages: estimated tokens, as the dashboard's)
    mean_tokens: float | None  # the model's own tokens, where recorded


def run_checks(responses: Sequence[tuple[int, str, int | None]]) -> RunChecks:
    """From (length, finish reason "stop" / "length" / "" unknown, new tokens or None) per answer."""
    n = len(responses)
    if not n:
        return RunChecks(0, None, None, 0.0, 0.0, None)
    known = [reason for _, reason, _ in responses if reason in ("stop", "length")]
    tokens = [count for _, _, count in responses if count is not None]
    return RunChecks(
        n=n,
        stopped=known.count("stop") / len(known) if known else None,
        cut=known.count("length") / len(known) if known else None,
        empty=sum(1 for length, _, _ in responses if not length) / n,
        mean_length=sum(length for length, _, _ in responses) / n,
        mean_tokens=sum(tokens) / len(tokens) if tokens else None,
    )
