"""Semantic neighbours of an example, and examples near a query's meaning."""
from __future__ import annotations

from django.conf import settings

from curation.models import Example
from curation.signals import compute, encoder
from curation.signals.index import index_for
from curation.signals.models import Embedding


def query_vector(text: str):
    model = encoder.load(compute.embedding_model_path())
    return encoder.encode_query(model, text)


def example_vector(example):
    """The example's embedding for its current text: stored, or computed now when stale (not stored: a page
    view writes nothing; the next embedding run stores it)."""
    name = compute.embedding_model_name()
    row = Embedding.objects.filter(example=example, model_name=name, content_hash=example.content_hash).first()
    if row is not None:
        return row.array
    _, turns = compute.current_texts([example.pk])[example.pk]
    return query_vector(encoder.embedding_text(turns))


def nearest(vector, k, exclude=()):
    """The k examples nearest `vector`, [(example id, cosine similarity)], best first; hits whose example changed
    text since its embedding (or was deleted) are left out."""
    index = index_for()
    want = k + len(exclude)
    while True:
        rows = index.search_examples(vector, want + 10)
        current = dict(Example.objects.filter(pk__in=[pk for pk, _, _ in rows]).values_list("pk", "content_hash"))
        kept = [(pk, round(score, 4)) for pk, content_hash, score in rows
                if pk not in exclude and current.get(pk) == content_hash]
        if len(kept) >= k or len(rows) < want + 10:
            return kept[:k]
        want *= 2


def similar_examples(example, k=10):
    """The k examples most like `example` (itself left out), [(example id, score)]."""
    k = max(0, min(int(k), settings.SIGNALS_MAX_K))
    if not k or not index_for().live:  # nothing embedded yet: no model to load, nothing to find
        return []
    return nearest(example_vector(example), k, exclude={example.pk})


def semantic_search(query, k=10):
    """The k examples nearest `query`'s meaning, [(example id, score)]."""
    query = (query or "").strip()
    k = max(0, int(k))
    if not query or not k or not index_for().live:
        return []
    return nearest(query_vector(query), k)


_ranked: dict[tuple, dict[int, float]] = {}


def ranked(query, limit) -> dict[int, float]:
    """{example id: similarity} of the `limit` examples nearest `query`, best first; kept per process for the
    index it was computed on (a page asks for it to filter, to sort and to count)."""
    index = index_for()
    key = (index.token, (query or "").strip(), limit)
    if key not in _ranked:
        if len(_ranked) > 64:
            _ranked.clear()
        _ranked[key] = dict(semantic_search(query, k=limit))
    return _ranked[key]
