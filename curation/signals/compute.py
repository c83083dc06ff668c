"""Each signal computed for a list of examples and saved for the text it read: what a shard does.

`compute(signal, example_ids, on_batch)` saves in batches (a shard that stops keeps the batches it finished,
each one for the text it read) and calls `on_batch(done)` after each, where the job reports and checks.
`stale_ids(signal)` is what a run covers.
"""
from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db.models import Exists, OuterRef

from curation.models import Example, Turn
from curation.signals import encoder
from curation.signals.models import Embedding, Score
from curation.workspace.lint import check_conversation
from curation.workspace.models import ExampleSummary, StyleCheck

BATCH = {"embedding": 256, "length_percentile": 5000, "style": 500, "ifd": 64}
_scorers: dict[str, object] = {}


def embedding_model_path() -> str:
    return settings.SIGNALS_EMBEDDING_MODEL or encoder.default_model_path()


def embedding_model_name() -> str:
    return encoder.model_name_of(embedding_model_path())


def ifd_model_path() -> str:
    path = settings.SIGNALS_IFD_MODEL or str(settings.VAR_DIR / "models" / "smollm2-135m-instruct")
    return path


def model_name_for(signal) -> str:
    if signal == "embedding":
        return embedding_model_name()
    if signal == "ifd":
        return ifd_model_path()
    return ""


def stale_ids(signal, *, everything=False) -> list[int]:
    """The examples a run of `signal` computes: those without a value for their current text (all, with
    `everything`). Length percentiles are always all: another example's arrival moves everyone's rank."""
    examples = Example.objects.all()
    if signal == "ifd":
        examples = examples.filter(summary__turn_count__gte=2)  # an answer to score
    if not everything and signal != "length_percentile":
        if signal == "embedding":
            fresh = Embedding.objects.filter(example=OuterRef("pk"), model_name=embedding_model_name(),
                                             content_hash=OuterRef("content_hash"))
        else:
            fresh = Score.objects.filter(example=OuterRef("pk"), signal=signal, content_hash=OuterRef("content_hash"))
        examples = examples.exclude(Exists(fresh))
    return list(examples.order_by("pk").values_list("pk", flat=True))


def current_texts(example_ids) -> dict[int, tuple[str, list[str]]]:
    """{id: (content hash, turns)}; the hash is read first, so text newer than its hash can only look stale."""
    hashes = dict(Example.objects.filter(pk__in=example_ids).values_list("pk", "content_hash"))
    turns = {pk: [] for pk in hashes}
    rows = Turn.objects.filter(example_id__in=list(hashes)).order_by("example_id", "position")
    for pk, text in rows.values_list("example_id", "text"):
        turns[pk].append(text)
    return {pk: (hashes[pk], turns[pk]) for pk in hashes}


def _save_scores(signal, values: dict[int, tuple[str, float]], computed_by=""):
    rows = [Score(example_id=pk, signal=signal, content_hash=h, value=float(v), computed_by=computed_by)
            for pk, (h, v) in values.items() if v is not None and np.isfinite(v)]
    Score.objects.bulk_create(rows, update_conflicts=True, unique_fields=["example", "signal"],
                              update_fields=["content_hash", "value", "computed_by", "updated_at"])


def embed_examples(example_ids):
    texts = current_texts(example_ids)
    ids = list(texts)
    model = encoder.load(embedding_model_path())
    vectors = encoder.encode(model, [encoder.embedding_text(texts[pk][1]) for pk in ids],
                             batch_size=settings.SIGNALS_EMBEDDING_BATCH)
    name = embedding_model_name()
    rows = [Embedding(example_id=pk, model_name=name, content_hash=texts[pk][0], dim=vectors.shape[1],
                      vector=vectors[i].astype("<f4").tobytes()) for i, pk in enumerate(ids)]
    Embedding.objects.bulk_create(rows, update_conflicts=True, unique_fields=["example", "model_name"],
                                  update_fields=["content_hash", "dim", "vector", "updated_at"])
    return vectors


def length_percentiles(example_ids):
    """The percentile (0-100, mid-rank) of each example's response length among the examples of its source and
    domain. Zhao et al. 2024, "Long Is More for Alignment": across LIMA's sources a plain longest-1,000 would be
    87 % wikiHow, so length is compared within a source and domain."""
    rows = list(ExampleSummary.objects.filter(example_id__in=example_ids).values_list(
        "example_id", "example__source_id", "example__domain", "response_chars", "content_hash"))
    groups = {(source, domain) for _, source, domain, _, _ in rows}
    lengths = {}
    for source, domain in groups:
        lengths[(source, domain)] = np.sort(np.fromiter(ExampleSummary.objects.filter(
            example__source_id=source, example__domain=domain).values_list("response_chars", flat=True), dtype=np.int64))
    values = {}
    for pk, source, domain, chars, content_hash in rows:
        group = lengths[(source, domain)]
        below = np.searchsorted(group, chars, side="left")
        equal = np.searchsorted(group, chars, side="right") - below
        values[pk] = (content_hash, 100.0 * (below + 0.5 * equal) / len(group))
    _save_scores("length_percentile", values)


def style_warnings(example_ids):
    """The number of LIMA style warnings of the responses (curation.workspace.lint, as the write page shows
    them); also kept as the table's StyleCheck, so its Style column and filter show it."""
    texts = current_texts(example_ids)
    values, checks = {}, []
    for pk, (content_hash, turns) in texts.items():
        found = [warning for turn in check_conversation(turns) for warning in turn.warnings]
        values[pk] = (content_hash, len(found))
        checks.append(StyleCheck(example_id=pk, content_hash=content_hash, warnings=len(found),
                                 codes=sorted({warning.code for warning in found})))
    _save_scores("style", values)
    StyleCheck.objects.bulk_create(checks, update_conflicts=True, unique_fields=["example"],
                                   update_fields=["content_hash", "warnings", "codes", "checked_at"])


def scorer():
    from curation.signals.ifd import load_scorer

    path = ifd_model_path()
    if path not in _scorers:
        from pathlib import Path

        if not (Path(path) / "config.json").is_file():
            raise FileNotFoundError(
                f"SIGNALS_IFD_MODEL: no causal LM folder at {path} (run `make demo-model` for SmolLM2-135M)")
        _scorers[path] = load_scorer(path)
    return _scorers[path]


def ifd(example_ids):
    from curation.signals.ifd import ifd_scores

    texts = current_texts(example_ids)
    ids = list(texts)
    pairs = [("\n".join(turns[0::2]), "\n".join(turns[1::2])) for _, turns in (texts[pk] for pk in ids)]
    found = ifd_scores(scorer(), pairs, batch_size=settings.SIGNALS_IFD_BATCH)
    _save_scores("ifd", {pk: (texts[pk][0], found[i]) for i, pk in enumerate(ids)}, computed_by=ifd_model_path())


COMPUTE = {"embedding": embed_examples, "length_percentile": length_percentiles, "style": style_warnings, "ifd": ifd}


def compute(signal, example_ids, on_batch=None):
    if signal not in COMPUTE:
        raise ValueError(f"signal: unknown signal {signal!r}; choose one of {', '.join(COMPUTE)}")
    step = BATCH[signal]
    for start in range(0, len(example_ids), step):
        COMPUTE[signal](example_ids[start:start + step])
        if on_batch is not None:
            on_batch(min(start + step, len(example_ids)))
