"""The embeddings as a matrix, and the nearest of them to a vector: exact (one matrix product) up to
SIGNALS_ANN_MIN_VECTORS vectors, an HNSW index (usearch) beyond, where the exact product stops being fast enough
(bench/signals.py measures both).

The matrix of a model is read once per process and kept while the embeddings are unchanged (their count and
latest update, one indexed query); a hit whose example changed text since is dropped at query time.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db.models import Count, F, Max

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
    """Nearest neighbours by cosine similarity (the vectors are normalised: a dot product)."""

    def __init__(self, vectors: VectorSet, ann_min=None):
        self.vectors = vectors
        self.ids = np.asarray(vectors.ids, dtype=np.int64)
        self.ann = None
        self.token = None  # (model, embeddings, last update) when index_for built it
        ann_min = settings.SIGNALS_ANN_MIN_VECTORS if ann_min is None else ann_min
        if len(vectors) >= max(ann_min, 1):
            from usearch.index import Index as HNSW

            self.ann = HNSW(ndim=vectors.matrix.shape[1], metric="ip", dtype="f32")
            self.ann.add(np.arange(len(vectors), dtype=np.uint64), vectors.matrix, threads=0)

    @property
    def method(self):
        return "usearch" if self.ann is not None else "exact"

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest (row, similarity), best first."""
        n = len(self.vectors)
        k = min(k, n)
        if k <= 0:
            return []
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if self.ann is not None:
            found = self.ann.search(vector, k)
            return [(int(key), float(1.0 - distance)) for key, distance in zip(found.keys, found.distances)]
        similarities = self.vectors.matrix @ vector  # (n,)
        top = np.argpartition(-similarities, k - 1)[:k]
        top = top[np.argsort(-similarities[top], kind="stable")]
        return [(int(row), float(similarities[row])) for row in top]


_cache: dict[str, tuple[tuple, Index]] = {}
_lock = threading.Lock()


def _token(model_name):
    found = Embedding.objects.filter(model_name=model_name).aggregate(n=Count("pk"), last=Max("updated_at"))
    return found["n"], found["last"]


def index_for(model_name=None) -> Index:
    """This process's index of the model's embeddings, rebuilt when they changed."""
    model_name = _model(model_name)
    token = _token(model_name)
    with _lock:
        cached = _cache.get(model_name)
        if cached is not None and cached[0] == token:
            return cached[1]
    index = Index(vectors_for(model_name=model_name))
    index.token = (model_name, *token)
    with _lock:
        _cache[model_name] = (token, index)
    return index


def clear_cache():
    with _lock:
        _cache.clear()
