"""Seeded, deterministic sampling of candidates across domains.

LIMA.md: "200 pairs from each group, sampled across exchanges with temperature tau = 3 (an
exchange with n candidates is drawn with weight n^(1/tau)), so small exchanges are not
drowned"; wikiHow: "first draw one of 19 categories, then an article in it".

- ``temperature_sample(candidates, target, tau=3, seed=0, within="top")``: draw a domain with
  weight n^(1/tau), then its next candidate (best-ranked first, or at random); ``tau=None`` draws
  domains uniformly — the "pick a category, then an item" sampler.
- ``balanced_sample(candidates, target, seed=0)``: that uniform category-then-item draw.
- ``select_records(records, targets=..., ...)``: which accepted records are selected; the ingest
  marks the others "not_sampled" (``mark_not_sampled``), so a person can still rescue them.
- ``load_site_groups()`` / ``site_group(site)``: the shipped, editable STEM/other mapping
  (``curation/sources/stem_sites.toml``).

The result depends only on the candidates and the seed, never on the order they come in.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from curation.sources.plugins import DEFAULT_TAU  # noqa: F401 - LIMA's tau, where the sampler's callers find it
from curation.sources.records import Record
from curation.sources.stem_sites import load_site_groups, site_group

# LIMA.md: "200 pairs from each group" (Stack Exchange STEM and other).
NOT_SAMPLED = "not_sampled"


@dataclass(frozen=True)
class Candidate:
    key: str  # the record's external_id
    domain: str  # exchange, category, subreddit ...
    rank: float = 0.0  # higher is drawn first when within="top"


def temperature_weights(sizes: Mapping[str, int], tau: float | None = DEFAULT_TAU) -> dict[str, float]:
    """Weight of each domain: n^(1/tau); equal weights when tau is None (uniform)."""
    if tau is not None and tau <= 0:
        raise ValueError("tau must be positive (or None for uniform)")
    return {
        domain: (1.0 if tau is None else float(n) ** (1.0 / tau))
        for domain, n in sizes.items()
        if n > 0
    }


def temperature_sample(
    candidates: Iterable[Candidate],
    target: int,
    *,
    tau: float | None = DEFAULT_TAU,
    seed: int | str = 0,
    within: str = "top",
) -> list[str]:
    """Draw up to ``target`` candidate keys, in draw order.

    Each draw picks a domain with weight n^(1/tau), n = its number of candidates (LIMA's
    weight, fixed for the whole draw), then takes that domain's best-ranked remaining candidate
    (``within="top"``, LIMA's "highest-scoring questions") or a random one (``within="random"``).
    A domain with nothing left drops out."""
    if within not in ("top", "random"):
        raise ValueError('within must be "top" or "random"')
    rng = random.Random(seed)
    pools: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        pools[candidate.domain].append(candidate)
    domains = sorted(pools)
    for domain in domains:
        # Sorted the same way whatever order the candidates came in; pop() takes from the end.
        pools[domain].sort(key=lambda c: (c.rank, c.key), reverse=True)
        if within == "random":
            rng.shuffle(pools[domain])
        pools[domain].reverse()
    weights = temperature_weights({d: len(pools[d]) for d in domains}, tau)
    chosen: list[str] = []
    while len(chosen) < target and domains:
        domain = rng.choices(domains, weights=[weights[d] for d in domains])[0]
        chosen.append(pools[domain].pop().key)
        if not pools[domain]:
            domains.remove(domain)
    return chosen


def balanced_sample(candidates: Iterable[Candidate], target: int, *, seed: int = 0) -> list[str]:
    """Pick a category uniformly, then an item in it uniformly (LIMA's wikiHow draw)."""
    return temperature_sample(candidates, target, tau=None, seed=seed, within="random")


# --- Selection over records ------------------------------------------------------------------

def _question_score(record: Record) -> float:
    return float(record.metadata.get("question_score") or 0)


def select_records(
    records: Iterable[Record],
    *,
    targets: int | Mapping[str, int],
    group_of: Callable[[Record], str] | None = None,
    rank_of: Callable[[Record], float] = _question_score,
    tau: float | None = DEFAULT_TAU,
    seed: int = 0,
    within: str = "top",
) -> set[str]:
    """External ids of the accepted records selected; rejected records are ignored.

    Records are split into groups by ``group_of`` (default: the STEM/other mapping of their
    domain) and ``targets[group]`` are drawn from each across its domains with
    ``temperature_sample``. An int target means one group holding everything. Only keys, domains
    and ranks are kept, so the records themselves may be streamed."""
    if isinstance(targets, int):
        targets = {"all": targets}
        group_of = lambda record: "all"  # noqa: E731
    elif group_of is None:
        site_groups = load_site_groups()
        group_of = lambda record: site_group(record.domain, site_groups)  # noqa: E731
    by_group: dict[str, list[Candidate]] = defaultdict(list)
    for record in records:
        if record.reject_reason is None:
            by_group[group_of(record)].append(
                Candidate(record.external_id, record.domain, rank_of(record))
            )
    selected: set[str] = set()
    for group, target in sorted(targets.items()):
        # Each group gets its own stream of draws, so changing one target leaves the other
        # group's selection as it was.
        group_seed = f"{seed}:{group}"
        selected.update(
            temperature_sample(by_group.get(group, []), target, tau=tau, seed=group_seed, within=within)
        )
    return selected


def mark_not_sampled(records: Iterable[Record], selected: set[str]) -> None:
    """Reject accepted records that were not selected, with the rescuable reason "not_sampled"."""
    for record in records:
        if record.reject_reason is None and record.external_id not in selected:
            record.reject_reason = NOT_SAMPLED
