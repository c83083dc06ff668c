"""What a proposal reads from the studio: the candidate pool with its source groups and lengths, the quality
signals, the embeddings and the near-duplicate clusters, as arrays aligned on the candidates' ids."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curation.models import Example
from curation.sources.stem_sites import load_site_groups
from curation.workspace.figures import LIMA_TARGETS, bucket_of, load_targets

# quality.py's names for the signals, and the names curation.signals stores them under.
STORED_SIGNAL = {"length_percentile": "length_percentile", "style_warnings": "style", "ifd": "ifd",
                 "judge_rating": "judge"}


@dataclass
class Pool:
    ids: np.ndarray  # (n,) int64, ascending
    versions: dict[int, int]
    groups: list[str]
    status: list[str]
    split: list[str]
    response_tokens: np.ndarray  # (n,)
    excluded: dict[str, int]  # why examples are no candidates: {"rejected": n, "dev or test": n, "no response": n}

    def __len__(self):
        return len(self.ids)


def train_targets(targets_from: str) -> dict[str, int]:
    """The train split's composition: LIMA's Table 1 (LIMA.md: 200 SE STEM, 200 SE other, 200 wikiHow, 150
    WritingPrompts, 50 Super-NaturalInstructions, 200 hand-written), or the dashboard's targets."""
    targets = load_targets() if targets_from == "dashboard" else LIMA_TARGETS
    return {bucket: n for (split, bucket), n in targets.items() if split == "train" and n > 0}


def load_pool() -> Pool:
    """Every example that may go into the train set: not rejected, not in dev or test (held out, LIMA.md), and
    with a response to learn from (prompt-only examples need a draft first)."""
    groups_of_sites = load_site_groups()
    rows = (
        Example.objects.order_by("pk")
        .values_list("pk", "version", "source__kind", "domain", "metadata", "status", "split",
                     "summary__response_tokens")
    )
    ids, versions, groups, status, split, tokens = [], {}, [], [], [], []
    excluded = {"rejected": 0, "dev or test": 0, "no response": 0}
    for pk, version, kind, domain, metadata, st, sp, response_tokens in rows.iterator(chunk_size=5000):
        if st == Example.Status.REJECTED:
            excluded["rejected"] += 1
        elif sp in (Example.Split.DEV, Example.Split.TEST):
            excluded["dev or test"] += 1
        elif not response_tokens:
            excluded["no response"] += 1
        else:
            ids.append(pk)
            versions[pk] = version
            groups.append(bucket_of(kind, domain, metadata, groups_of_sites))
            status.append(st)
            split.append(sp)
            tokens.append(response_tokens)
    return Pool(np.asarray(ids, dtype=np.int64), versions, groups, status, split, np.asarray(tokens, dtype=np.int64),
                excluded)


def quality_columns(ids: np.ndarray) -> dict[str, list]:
    """{signal: value per candidate (None where missing or stale)}, for the signals computed at all."""
    from curation.signals.scores import SCORED, scores_for

    columns = {}
    for signal, stored in STORED_SIGNAL.items():
        if stored not in SCORED:  # not a signal this studio computes (the judge's rating is optional)
            continue
        scores = scores_for(stored)
        if scores:
            columns[signal] = [scores.get(int(pk)) for pk in ids]
    return columns


def vectors(ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Unit embeddings aligned on `ids` (zero rows where an example has no fresh embedding), and how many lack one."""
    from curation.signals.index import vectors_for

    found = vectors_for()
    if not len(found.ids):
        return np.zeros((len(ids), 1), dtype=np.float32), len(ids)
    row_of = {int(pk): i for i, pk in enumerate(found.ids)}
    rows = np.array([row_of.get(int(pk), -1) for pk in ids], dtype=np.int64)
    matrix = np.zeros((len(ids), found.matrix.shape[1]), dtype=np.float32)
    present = rows >= 0
    matrix[present] = found.matrix[rows[present]]
    return matrix, int((~present).sum())


def clusters(ids: np.ndarray) -> np.ndarray:
    """The near-duplicate cluster of each candidate, -1 for none."""
    from curation.dedupe.clusters import cluster_map

    cluster_of = cluster_map()
    return np.array([cluster_of.get(int(pk), -1) for pk in ids], dtype=np.int64)
