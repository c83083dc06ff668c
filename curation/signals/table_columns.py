"""The quality signals as columns and filters of the examples table (curation.workspace.registry finds this
module by its name). A value computed for older text shows as – (a run of the signal computes it again).

The style signal fills the table's existing Style column (curation/workspace/table_columns.py): a style run
writes the same StyleCheck the "Check style" action does, for every example at once.
"""
from django.db.models import Q
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from curation.signals.scores import fresh_score
from curation.workspace.registry import register_column, register_filter

MISSING = mark_safe('<span class="muted" title="Not computed for the current text: run the signal">–</span>')


def _annotate(key, signal):
    return lambda examples: examples.annotate(**{key: fresh_score(signal)})


def render_percentile(example):
    if example.length_percentile is None:
        return MISSING
    return format_html("{}", round(example.length_percentile))


def render_ifd(example):
    if example.ifd is None:
        return MISSING
    if example.ifd >= 1:
        return format_html('<span class="muted" title="The prompt does not help predict the answer">{:.2f}</span>',
                           example.ifd)
    return format_html("{:.2f}", example.ifd)


def _by_value(key, ranges):
    def apply(examples, value):
        examples = _annotate(key, key)(examples)
        if value == "missing":
            return examples.filter(**{f"{key}__isnull": True})
        low, high = ranges[value]
        condition = Q()
        if low is not None:
            condition &= Q(**{f"{key}__gte": low})
        if high is not None:
            condition &= Q(**{f"{key}__lt": high})
        return examples.filter(condition)

    return apply


PERCENTILES = {"top": (75, None), "middle": (25, 75), "bottom": (None, 25)}
IFDS = {"helps": (None, 1.0), "hard": (0.6, 1.0), "no_help": (1.0, None)}

register_column(
    "length_percentile", "Length pct", annotate=_annotate("length_percentile", "length_percentile"),
    render=render_percentile, sortable=True, numeric=True, rank=20,
    help="Percentile (0-100) of the response's length among the examples of its source and domain. Zhao et al. "
         "2024, “Long Is More for Alignment”: across sources a plain longest-1,000 would be 87 % wikiHow in LIMA's "
         "set, so length is ranked within a source and domain",
)
register_filter(
    "length_percentile", "Length pct", apply=_by_value("length_percentile", PERCENTILES), rank=20,
    choices=[("top", "Longest quarter of its source/domain"), ("middle", "Middle half"),
             ("bottom", "Shortest quarter"), ("missing", "Not computed")],
)
register_column(
    "ifd", "IFD", annotate=_annotate("ifd", "ifd"), render=render_ifd, sortable=True, numeric=True, rank=30,
    help="Instruction-following difficulty: the loss of the response given the prompt ÷ its loss alone, by a small "
         "causal LM (Li et al. 2024, “From Quantity to Quality”; Superfiltering shows a GPT-2-sized model ranks "
         "like a large one). Below 1 the prompt helps; near 1 it is hard; 1 or more: unrelated to the prompt",
)
register_filter(
    "ifd", "IFD", apply=_by_value("ifd", IFDS), rank=30,
    choices=[("helps", "Prompt helps (< 1)"), ("hard", "Hard but related (0.6-1)"), ("no_help", "Prompt does not help (≥ 1)"),
             ("missing", "Not computed")],
)
