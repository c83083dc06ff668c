"""Choosing a set: within each quota of a target composition, examples that are good and cover the space.

Pure numpy, no Django. LIMA's point is that 1,000 examples suffice when they are excellent *and* diverse; this
module makes that choice explicit so that people can review it rather than make it blind:

- quotas: how many to take from each group (a source group of LIMA's Table 1, by default);
- quality: a score in [0, 1] per candidate (the mean of its available quality signals);
- diversity: greedy k-centre over the candidates' unit embeddings — each pick maximises
  `quality_weight * quality + (1 - quality_weight) * distance to the nearest example already picked`
  (Sener & Savarese's k-centre greedy, weighted by quality as in DEITA's score-first, diversity-aware
  selection), so a pick is good and unlike what the set already holds;
- near-duplicates: once an example is picked, the others of its duplicate cluster are no candidates any more.

Deterministic: ties go to the smaller id. The set's coverage (mean similarity of every candidate to its nearest
picked example: the facility-location value) is reported, so two proposals can be compared.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_QUALITY_WEIGHT = 0.5


@dataclass
class Candidates:
    ids: np.ndarray  # (n,) int64
    groups: list[str]  # (n,) the quota group of each
    quality: np.ndarray  # (n,) float in [0, 1]
    vectors: np.ndarray  # (n, d) float32, unit rows (zero rows: no embedding; distance 1 to everything)
    clusters: np.ndarray | None = None  # (n,) int64 duplicate cluster, -1 for none

    def __post_init__(self):
        n = len(self.ids)
        if not (len(self.groups) == len(self.quality) == len(self.vectors) == n):
            raise ValueError("ids, groups, quality and vectors must have one entry per candidate")
        if self.clusters is None:
            self.clusters = np.full(n, -1, dtype=np.int64)


@dataclass
class Selection:
    ids: list[int]  # in the order picked
    by_group: dict[str, list[int]] = field(default_factory=dict)
    shortfall: dict[str, int] = field(default_factory=dict)  # groups with fewer candidates than their quota
    coverage: float = 0.0  # mean over candidates of the similarity to the nearest picked one


def k_centre_greedy(vectors: np.ndarray, quality: np.ndarray, k: int, *, quality_weight: float = DEFAULT_QUALITY_WEIGHT,
                    clusters: np.ndarray | None = None, ids: np.ndarray | None = None) -> list[int]:
    """Indices of k rows picked greedily (see the module's docstring). O(n · k · d), no n × n matrix."""
    n = len(vectors)
    if k <= 0 or n == 0:
        return []
    ids = np.arange(n) if ids is None else ids
    available = np.ones(n, dtype=bool)
    distance = np.ones(n, dtype=np.float32)  # to the nearest pick; 1 = nothing like it yet (cosine distance scale)
    # Ties go to the smaller id: order the scan by id once.
    order = np.argsort(ids, kind="stable")
    vectors, quality, ids = vectors[order], quality[order].astype(np.float32), ids[order]
    clusters = None if clusters is None else clusters[order]
    picked = []
    for _ in range(min(k, n)):
        score = quality_weight * quality + (1.0 - quality_weight) * distance
        score[~available] = -np.inf
        best = int(np.argmax(score))  # the first of equal scores: the smallest id
        if not np.isfinite(score[best]):
            break
        picked.append(int(order[best]))
        available[best] = False
        if clusters is not None and clusters[best] >= 0:
            available &= clusters != clusters[best]
        similarity = vectors @ vectors[best]  # (n,)
        distance = np.minimum(distance, np.clip(1.0 - similarity, 0.0, 1.0))  # cosine distance, at most 1
    return picked


def coverage(vectors: np.ndarray, picked: list[int], *, sample: int = 5000, seed: int = 0) -> float:
    """Mean over (a sample of) the candidates of their similarity to the nearest picked row."""
    if not picked or not len(vectors):
        return 0.0
    rows = np.arange(len(vectors))
    if len(rows) > sample:
        rows = np.random.default_rng(seed).choice(rows, size=sample, replace=False)
    chosen = vectors[picked]  # (k, d)
    best = np.full(len(rows), -1.0, dtype=np.float32)
    for start in range(0, len(chosen), 1024):
        best = np.maximum(best, (vectors[rows] @ chosen[start:start + 1024].T).max(axis=1))
    return float(np.clip(best, 0.0, 1.0).mean())


def propose(candidates: Candidates, quotas: dict[str, int], *, quality_weight: float = DEFAULT_QUALITY_WEIGHT) -> Selection:
    """Fill each group's quota from its own candidates; groups without a quota give nothing."""
    groups = np.asarray(candidates.groups)
    selection = Selection(ids=[])
    for group, quota in quotas.items():
        rows = np.flatnonzero(groups == group)
        picks = k_centre_greedy(candidates.vectors[rows], candidates.quality[rows], quota, quality_weight=quality_weight,
                                clusters=candidates.clusters[rows], ids=candidates.ids[rows])
        chosen = [int(candidates.ids[rows[i]]) for i in picks]
        selection.by_group[group] = chosen
        selection.ids.extend(chosen)
        if len(chosen) < quota:
            selection.shortfall[group] = quota - len(chosen)
    index = {int(pk): i for i, pk in enumerate(candidates.ids)}
    selection.coverage = coverage(candidates.vectors, [index[pk] for pk in selection.ids])
    return selection
