"""Reading the quality signals: fresh values only (a score of older text counts as none)."""
from __future__ import annotations

from django.db.models import F, FloatField, OuterRef, Subquery

from curation.signals.models import SCORED, Score


def scores_for(signal, example_ids=None) -> dict[int, float]:
    """{example id: value} of `signal` for the examples' current texts."""
    if signal not in SCORED:
        raise ValueError(f"signal: unknown quality signal {signal!r}; choose one of {', '.join(SCORED)}")
    rows = Score.objects.filter(signal=signal, content_hash=F("example__content_hash"))
    if example_ids is not None:
        rows = rows.filter(example_id__in=list(example_ids))
    return dict(rows.values_list("example_id", "value"))


def fresh_score(signal):
    """The expression of an example's fresh `signal` value (None when missing or stale)."""
    return Subquery(
        Score.objects.filter(example=OuterRef("pk"), signal=signal, content_hash=OuterRef("content_hash")).values(
            "value")[:1],
        output_field=FloatField(),
    )


def annotate_scores(queryset, signals=SCORED):
    """`queryset` of examples with `<signal>_score` for each signal: length_percentile_score, style_score,
    ifd_score."""
    return queryset.annotate(**{f"{signal}_score": fresh_score(signal) for signal in signals})
