"""The examples table's "Duplicates" column and filter (curation.workspace.registry finds this module by name):
the other members of an example's near-duplicate cluster, from the last pass (curation.dedupe.index)."""
from django.db.models import F
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from curation.dedupe.clusters import annotate_clusters
from curation.workspace.registry import register_column, register_filter


def annotate_duplicates(examples):
    """`duplicates`: the other members of the example's cluster (0 when it is in none)."""
    return annotate_clusters(examples).annotate(duplicates=F("duplicate_count"))


def render_duplicates(example):
    if not example.duplicates:
        return mark_safe('<span class="muted">–</span>')
    return format_html('<a class="flag flag-warn" href="/duplicates/{}/" title="Near-duplicates: see the cluster">'
                       '{} near-duplicate{}</a>', example.duplicate_cluster, example.duplicates,
                       "s" if example.duplicates != 1 else "")


def filter_duplicates(examples, value):
    if value == "yes":
        return examples.filter(duplicate__isnull=False)
    if value == "no":
        return examples.filter(duplicate__isnull=True)
    return examples.filter(duplicate__cluster__kind=value)


register_column(
    "duplicates", "Duplicates", annotate=annotate_duplicates, render=render_duplicates, sortable=True, numeric=True,
    rank=20, help="Other examples whose prompt or response is a near-duplicate of this one's (MinHash LSH over "
                  "prompts and responses; Broder 1997), as the last duplicate search found them (/duplicates/)",
)
register_filter(
    "duplicates", "Duplicates", apply=filter_duplicates, rank=20,
    choices=[("yes", "Has near-duplicates"), ("no", "No near-duplicate"), ("prompt", "Same prompt"),
             ("response", "Same response"), ("both", "Same prompt and response")],
)
