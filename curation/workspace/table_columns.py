"""The examples table's style column, filter and "Check style" action, declared through the registry exactly as
another part of the studio declares its own (curation.workspace.registry finds this module by its name).

LIMA's style check (curation.workspace.lint: first person, links, phrases to avoid, no acknowledgement of the
question, length) costs about 4 ms an example, too much for every import, so it is stored (StyleCheck) for the
text it checked, by the action; an example whose text changed since counts as not checked.
"""
from django.db.models import Case, F, IntegerField, Q, When
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from curation.services import current_texts
from curation.workspace.bulk import BulkAction
from curation.workspace.lint import check_conversation
from curation.workspace.models import StyleCheck
from curation.workspace.registry import register_action, register_column, register_filter

_FRESH = Q(style_check__content_hash=F("content_hash"))


def annotate_style(examples):
    """`style`: the number of style warnings of the current text, None when it was not checked."""
    return examples.annotate(style=Case(When(_FRESH, then=F("style_check__warnings")), default=None,
                                        output_field=IntegerField()))


def render_style(example):
    if example.style is None:
        return mark_safe('<span class="muted" title="Not checked since its text last changed">–</span>')
    if example.style == 0:
        return mark_safe('<span class="style-clean" title="No style warning">✓</span>')
    plural = "s" if example.style != 1 else ""
    return format_html('<span class="flag flag-warn" title="LIMA style check">{} warning{}</span>', example.style, plural)


def filter_style(examples, value):
    if value == "warnings":
        return examples.filter(_FRESH, style_check__warnings__gt=0)
    if value == "clean":
        return examples.filter(_FRESH, style_check__warnings=0)
    return examples.filter(Q(style_check__isnull=True) | ~_FRESH)  # unchecked


def check_style(examples, params, user, report):
    """Check each example's current text and keep the result for its content hash."""
    texts = current_texts([example.pk for example in examples])
    checks = []
    for example in examples:
        found = [warning for turn in check_conversation(texts[example.pk]) for warning in turn.warnings]
        checks.append(StyleCheck(example=example, content_hash=example.content_hash, warnings=len(found),
                                 codes=sorted({warning.code for warning in found})))
    StyleCheck.objects.bulk_create(checks, update_conflicts=True, unique_fields=["example"],
                                   update_fields=["content_hash", "warnings", "codes", "checked_at"])
    report.changed += len(checks)


register_column(
    "style", "Style", annotate=annotate_style, render=render_style, sortable=True, numeric=True, rank=10,
    help="Warnings of LIMA's style check of the responses (first person, links, phrases to avoid, no "
         "acknowledgement, length): run “Check style” on examples showing –",
)
register_filter(
    "style", "Style", apply=filter_style, rank=10,
    choices=[("warnings", "Has style warnings"), ("clean", "No style warning"), ("unchecked", "Not checked yet")],
)
register_action(BulkAction(
    "style", "Check style", "style-checked", "curation.view_example", check_style, touches_examples=False,
    cost=20, rank=80,  # ~4 ms an example against ~0.2 ms for a review: 20× fewer run in the request
))
