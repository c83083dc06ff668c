"""The embeddings as a matrix, and the nearest of them to a vector: exact (one matrix product) up to
SIGNALS_ANN_MIN_VECTORS vectors, an HNSW index (usearch) beyond, where the exact product stops being fast enough
(bench/signals.py measures both).

The matrix of a model is read once per process; afterwards only the rows changed since its latest update (one
indexed query tells) are read and added; a hit whose example changed text since, or was deleted, is dropped at
query time.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db.models import F, Max

from curation.signals.models import Embedding


@dataclass
class VectorSet:
    ids: list[int]
    matrix: np.ndarray  # (n, d) float32, each row L2-normalised
    hashes: list[str] = field(default_factory=list)  # the content hash each vector was computed for

    def __len__(self):
        return len(self.ids)


def _model(model_name):
    if model_name:
        return model_name
    from curation.signals.compute import embedding_model_name

    return embedding_model_name()


def vectors_for(example_ids=None, model_name=None) -> VectorSet:
    """The fresh embeddings (for the example's current text) of `example_ids` (all when None), by example id."""
    rows = Embedding.objects.filter(model_name=_model(model_name), content_hash=F("example__content_hash"))
    if example_ids is not None:
        rows = rows.filter(example_id__in=list(example_ids))
    return _vector_set(rows)


def _vector_set(rows) -> VectorSet:
    ids, hashes, chunks, dim = [], [], [], 0
    for pk, content_hash, d, vector in rows.order_by("example_id").values_list("example_id", "content_hash", "dim",
                                                                               "vector").iterator(chunk_size=5000):
        ids.append(pk)
        hashes.append(content_hash)
        chunks.append(bytes(vector))
        dim = d
    if not ids:
        return VectorSet([], np.zeros((0, 0), dtype=np.float32), [])
    matrix = np.frombuffer(b"".join(chunks), dtype="<f4").reshape(len(ids), dim).astype(np.float32, copy=False)
    return VectorSet(ids, matrix, hashes)


class Index:
    """Nearest neighbours by cosine similarity (the vectors are normalised: a dot product). Rows are added as
    embeddings change (`extend`); a row replaced by a newer one of the same example is dead and never returned."""

    def __init__(self, vectors: VectorSet, ann_min=None):
        # The rows and which are alive, replaced together (one assignment) so that a search in another thread
        # always sees a matrix and a mask of the same length.
        self.state = (vectors, np.ones(len(vectors), dtype=bool))
        self.row_of = {pk: row for row, pk in enumerate(vectors.ids)}
        self.dead = 0
        self.ann = None
        self.token = None  # (model, embeddings, last update) when index_for built it
        ann_min = settings.SIGNALS_ANN_MIN_VECTORS if ann_min is None else ann_min
        if len(vectors) >= max(ann_min, 1):
            from usearch.index import Index as HNSW

            # expansion_search 256 (usearch's default 64): near-identical neighbours, as in a corpus of similar
            # questions, need a wider search for the true top 10 (bench/signals.py measures the recall).
            self.ann = HNSW(ndim=vectors.matrix.shape[1], metric="ip", dtype="f32", connectivity=16,
                            expansion_add=128, expansion_search=256)
            self.ann.add(np.arange(len(vectors), dtype=np.uint64), vectors.matrix, threads=0)

    @property
    def method(self):
        return "usearch" if self.ann is not None else "exact"

    @property
    def vectors(self) -> VectorSet:
        return self.state[0]

    @property
    def live(self):
        return len(self.vectors) - self.dead

    def extend(self, changed: VectorSet):
        """Take the embeddings in `changed` (new, or newer ones of examples already here)."""
        if not len(changed):
            return
        if not len(self.vectors):
            self.__init__(changed)
            return
        vectors, alive = self.state
        replaced = [self.row_of[pk] for pk in changed.ids if pk in self.row_of]
        replaced = [row for row in replaced if alive[row]]
        alive = np.concatenate([alive, np.ones(len(changed), dtype=bool)])
        alive[replaced] = False
        self.dead += len(replaced)
        base = len(vectors)
        self.state = (VectorSet(vectors.ids + changed.ids, np.vstack([vectors.matrix, changed.matrix]),
                                vectors.hashes + changed.hashes), alive)
        self.row_of.update({pk: base + i for i, pk in enumerate(changed.ids)})
        if self.ann is not None:
            self.ann.add(np.arange(base, base + len(changed), dtype=np.uint64), changed.matrix, threads=0)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest live (row, similarity), best first."""
        return self._search(self.state, vector, k)

    def search_examples(self, vector: np.ndarray, k: int) -> list[tuple[int, str, float]]:
        """The k nearest live (example id, content hash embedded, similarity), best first."""
        state = self.state
        return [(state[0].ids[row], state[0].hashes[row], score) for row, score in self._search(state, vector, k)]

    def _search(self, state, vector, k):
        vectors, alive = state
        k = min(k, len(vectors) - self.dead)
        if k <= 0:
            return []
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if self.ann is not None:
            asked = k
            while True:
                found = self.ann.search(vector, min(asked, len(vectors)))
                hits = [(int(key), float(1.0 - distance)) for key, distance in zip(found.keys, found.distances)
                        if int(key) < len(alive) and alive[int(key)]]
                if len(hits) >= k or asked >= len(vectors):
                    return hits[:k]
                asked *= 4
        similarities = vectors.matrix @ vector  # (n,)
        if not alive.all():
            similarities[~alive] = -np.inf
        top = np.argpartition(-similarities, k - 1)[:k]
        top = top[np.argsort(-similarities[top], kind="stable")]
        return [(int(row), float(similarities[row])) for row in top]


_cache: dict[str, Index] = {}
_lock = threading.Lock()
REBUILD_DEAD_SHARE = 0.25  # past this share of dead rows (and 1,000) the index is read again from scratch


def _token(model_name):
    """The latest change of the model's embeddings: one step down the (model_name, updated_at) index. (A count
    would read the whole table, 170 MB at 100k: deleted examples are left out at query time instead.)"""
    return Embedding.objects.filter(model_name=model_name).aggregate(last=Max("updated_at"))["last"]


def index_for(model_name=None) -> Index:
    """This process's index of the model's embeddings: read once, then only the rows changed since (a run
    writing embeddings does not make every query read them all again); read again from scratch when too many
    rows were replaced."""
    model_name = _model(model_name)
    last = _token(model_name)
    token = (model_name, last)
    with _lock:
        index = _cache.get(model_name)
        if index is not None and index.token == token:
            return index
        if index is not None and last is not None:
            seen = index.token[1]
            changed = Embedding.objects.filter(model_name=model_name)
            if seen is not None:
                changed = changed.filter(updated_at__gte=seen)  # >=: rows written in the same instant as the last
            index.extend(_vector_set(changed))
            if index.dead <= max(1000, REBUILD_DEAD_SHARE * len(index.vectors)):
                index.token = token
                return index
    # Every row of the model, stale ones too: a stale or deleted example's hit is left out at query time
    # (search.nearest).
    index = Index(_vector_set(Embedding.objects.filter(model_name=model_name)))
    index.token = token
    with _lock:
        _cache[model_name] = index
    return index


def clear_cache():
    with _lock:
        _cache.clear()
