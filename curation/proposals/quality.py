"""A candidate's quality for a proposal: the mean of its quality signals, each put on [0, 1]. Pure.

- length_percentile (already 0-100 within its source and domain: "Long Is More for Alignment") -> / 100;
- style_warnings (how many of LIMA's style warnings the answer draws) -> 1 / (1 + warnings);
- ifd (instruction-following difficulty, Superfiltering): below 1 the prompt helps, and harder is better, so the
  rank among the candidates' IFDs below 1; 1 or more (the prompt does not help) -> 0;
- judge_rating (0-5, AlpaGasus-style) -> / 5.
A candidate with no signal at all gets NEUTRAL: a proposal then chooses by diversity alone.
"""
from __future__ import annotations

import numpy as np

NEUTRAL = 0.5
SIGNALS = ("length_percentile", "style_warnings", "ifd", "judge_rating")


def _ranks(values: np.ndarray) -> np.ndarray:
    """Each value's rank in [0, 1] among the finite ones (NaN stays NaN)."""
    out = np.full(len(values), np.nan)
    finite = np.flatnonzero(np.isfinite(values))
    if len(finite) == 1:
        out[finite] = 1.0
    elif len(finite):
        order = np.argsort(values[finite], kind="stable")
        out[finite[order]] = np.arange(len(finite)) / (len(finite) - 1)
    return out


def normalised(signal: str, values) -> np.ndarray:
    """One signal's values (None or NaN where missing) on [0, 1]."""
    values = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    if signal == "length_percentile":
        return np.clip(values / 100.0, 0.0, 1.0)
    if signal == "style_warnings":
        return 1.0 / (1.0 + np.clip(values, 0.0, None))
    if signal == "ifd":
        helpful = np.where(values < 1.0, values, np.nan)
        out = _ranks(helpful)
        return np.where(np.isfinite(values) & (values >= 1.0), 0.0, out)
    if signal == "judge_rating":
        return np.clip(values / 5.0, 0.0, 1.0)
    raise ValueError(f"unknown quality signal {signal!r}")


def combine(columns: dict[str, list], weights: dict[str, float] | None = None) -> np.ndarray:
    """The weighted mean, per candidate, of its normalised signals that are present; NEUTRAL with none."""
    if not columns:
        return np.zeros(0)
    n = len(next(iter(columns.values())))
    total, weight = np.zeros(n), np.zeros(n)
    for signal, values in columns.items():
        w = (weights or {}).get(signal, 1.0)
        scored = normalised(signal, values)
        present = np.isfinite(scored)
        total[present] += w * scored[present]
        weight[present] += w
    return np.where(weight > 0, total / np.maximum(weight, 1e-12), NEUTRAL)


def scaled_quotas(targets: dict[str, int], size: int) -> dict[str, int]:
    """`targets` (a composition, e.g. LIMA's Table 1 for train) scaled to `size` in all, by largest remainder,
    so that the quotas add up to `size` exactly."""
    total = sum(v for v in targets.values() if v > 0)
    if total <= 0 or size <= 0:
        return {key: 0 for key in targets}
    exact = {key: size * max(v, 0) / total for key, v in targets.items()}
    quotas = {key: int(value) for key, value in exact.items()}
    rest = size - sum(quotas.values())
    for key in sorted(exact, key=lambda k: (-(exact[k] - quotas[k]), k))[:rest]:
        quotas[key] += 1
    return quotas
