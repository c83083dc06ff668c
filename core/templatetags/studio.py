"""Filters every page can use without {% load %} (a builtin, config/settings.py): words for keys, durations."""
from django import template

from core import duration as durations
from core import labels

register = template.Library()


@register.filter
def label(key):
    """{{ reason|label }}: "answer_score_below_10" -> "Answer score below 10" (core.labels)."""
    return labels.label(key)


@register.filter
def duration(value):
    """{{ job.duration|duration }}: a timedelta or seconds as "2 min 39 s" (core.duration)."""
    return durations.duration_text(value)
