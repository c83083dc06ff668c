"""Near-duplicates: MinHash LSH (datasketch) over the stored signatures, prompts and responses separately.

A pass (`refresh`) signs the examples whose text is new or changed (curation.dedupe.signatures), rebuilds both
LSH indexes in memory from every stored signature (seconds for 100k examples), checks each candidate pair the
index proposes against its threshold (the signatures' estimated Jaccard similarity), and joins the pairs into
clusters (connected groups), which it stores in place of the last pass's. An example belongs to one cluster at
most; a cluster's kind says whether its pairs share prompts, responses or both.

Thresholds: settings.DEDUPE_PROMPT_THRESHOLD (character 5-grams of the prompt) and DEDUPE_RESPONSE_THRESHOLD
(word 5-shingles of the response), each an estimated Jaccard similarity.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from datasketch import MinHashLSH
from django.conf import settings
from django.db import connection, transaction

from curation.dedupe import minhash, signatures
from curation.dedupe.models import DuplicateCluster, DuplicateMember

LSH_MAX_THRESHOLD = 0.9
PARTNERS = 64
STORE_LOCK = 0x6465647570  # "dedup": the advisory lock key of store()
PROMPT, RESPONSE, BOTH = DuplicateCluster.Kind.PROMPT, DuplicateCluster.Kind.RESPONSE, DuplicateCluster.Kind.BOTH


@dataclass(frozen=True)
class Pair:
    a: int  # example ids, a < b
    b: int
    kind: str  # "prompt" or "response"
    similarity: float


def thresholds(threshold=None):
    """{kind: threshold}: the settings, or `threshold` for both."""
    return {
        PROMPT: float(threshold if threshold is not None else settings.DEDUPE_PROMPT_THRESHOLD),
        RESPONSE: float(threshold if threshold is not None else settings.DEDUPE_RESPONSE_THRESHOLD),
    }


def candidate_pairs(ids, matrix, mask, threshold):
    """Buckets (sorted row numbers, two or more) of rows that share a band of the LSH index for `threshold`.

    The banding is datasketch's MinHashLSH's: its (bands, rows) optimal for the threshold and its hash ranges.
    The rows are bucketed with numpy (one sort of each band's bytes) rather than inserted key by key into its
    storage, which took 18 s of a 77 s pass over 100k examples (3.2M set updates); the buckets are the same."""
    # datasketch needs two bands at least, which it gives up to ~0.9; pairs above are checked exactly anyway.
    lsh = MinHashLSH(threshold=min(threshold, LSH_MAX_THRESHOLD), num_perm=minhash.NUM_PERM)
    rows = np.flatnonzero(mask)
    if len(rows) < 2:
        return
    for start, end in lsh.hashranges:
        band = np.ascontiguousarray(matrix[rows, start:end]).view(np.dtype((np.void, 4 * (end - start)))).ravel()
        order = np.argsort(band, kind="stable")
        ordered = band[order]
        starts = np.concatenate([[0], np.flatnonzero(ordered[1:] != ordered[:-1]) + 1, [len(ordered)]])
        for i in np.flatnonzero(np.diff(starts) > 1):  # buckets of two rows or more only
            yield sorted(rows[order[starts[i]:starts[i + 1]]].tolist())


class _Components:
    """Union-find over row numbers, keeping per group the kinds and the lowest similarity that joined it."""

    def __init__(self):
        self.parent = {}
        self.kinds = {}
        self.lowest = {}

    def find(self, x):
        parent = self.parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def joined(self, a, b, kind):
        """Already in one group that has a pair of `kind`: nothing more to learn from (a, b)."""
        if a not in self.parent or b not in self.parent:
            return False
        root = self.find(a)
        return root == self.find(b) and kind in self.kinds.get(root, ())

    def union(self, a, b, kind, similarity):
        ra, rb = self.find(a), self.find(b)
        kinds = self.kinds.pop(ra, set()) | self.kinds.pop(rb, set()) | {kind}
        lowest = min(self.lowest.pop(ra, 1.0), self.lowest.pop(rb, 1.0), similarity)
        if ra != rb:
            self.parent[rb] = ra
        self.kinds[ra], self.lowest[ra] = kinds, lowest

    def groups(self):
        found = {}
        for x in self.parent:
            found.setdefault(self.find(x), []).append(x)
        return [(sorted(members), self.kinds[root], self.lowest[root]) for root, members in found.items()]


def find_pairs(loaded, threshold=None, *, every_pair=False, components=None):
    """Verified near-duplicate pairs of loaded signatures (signatures.load). Without `every_pair`, a candidate pair
    already joined in `components` by a pair of the same kind is not checked again (clusters need no more); with
    it, every pair is kept."""
    ids, prompts, prompt_mask, responses, response_mask = loaded
    pairs = []
    for kind, matrix, mask in ((PROMPT, prompts, prompt_mask), (RESPONSE, responses, response_mask)):
        limit = thresholds(threshold)[kind]
        seen = set()
        for bucket in candidate_pairs(ids, matrix, mask, limit):
            for x, i in enumerate(bucket):
                # A huge bucket (thousands asking "Write a story.") would cost its size squared; for clusters each
                # member meets the next PARTNERS, which chains the bucket's near-duplicates together all the same.
                for j in bucket[x + 1:] if every_pair or components is None else bucket[x + 1:x + 1 + PARTNERS]:
                    if (i, j) in seen:
                        continue
                    seen.add((i, j))
                    if components is not None and not every_pair and components.joined(i, j, kind):
                        continue
                    similarity = minhash.similarity(matrix[i], matrix[j])
                    if similarity >= limit:
                        pairs.append(Pair(int(ids[i]), int(ids[j]), kind, similarity))
                        if components is not None:
                            components.union(i, j, kind, similarity)
    return pairs


def clusters_of(loaded, threshold=None):
    """[(example ids, kind, lowest similarity)] of the loaded signatures, the largest first."""
    ids = loaded[0]
    components = _Components()
    find_pairs(loaded, threshold, components=components)
    found = []
    for rows, kinds, lowest in components.groups():
        kind = BOTH if len(kinds) > 1 else next(iter(kinds))
        found.append(([int(ids[r]) for r in rows], kind, lowest))
    return sorted(found, key=lambda group: (-len(group[0]), group[0][0]))


def refresh(on_progress=None, threshold=None, on_phase=None):
    """Sign new and changed examples, find the clusters of all of them and store them in place of the last
    ones; returns the clusters as lists of example ids (the largest first). on_progress(done, total) while
    signing; on_phase(name) as it moves on to "clustering" and "storing"."""
    signatures.update_stale(on_progress=on_progress)
    if on_phase is not None:
        on_phase("clustering")
    found = clusters_of(signatures.load(), threshold)
    if on_phase is not None:
        on_phase("storing")
    store(found)
    return [members for members, _, _ in found]


@transaction.atomic
def store(found):
    """The clusters of a pass in place of the last pass's, in one transaction (two passes on two workers write one
    after the other: PostgreSQL's advisory lock)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [STORE_LOCK])
    DuplicateMember.objects.all().delete()
    DuplicateCluster.objects.all().delete()
    clusters = DuplicateCluster.objects.bulk_create(
        DuplicateCluster(kind=kind, size=len(members), similarity=round(lowest, 4)) for members, kind, lowest in found
    )
    DuplicateMember.objects.bulk_create(
        (DuplicateMember(example_id=pk, cluster=cluster)
         for cluster, (members, _, _) in zip(clusters, found) for pk in members),
        batch_size=5000,
    )


def near_pairs(example_ids, threshold=None):
    """Every verified near-duplicate pair among `example_ids` (their signatures brought up to date first): what
    the freeze check reports."""
    example_ids = list(example_ids)
    signatures.update_stale(example_ids)
    return find_pairs(signatures.load(example_ids), threshold, every_pair=True)
