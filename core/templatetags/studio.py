"""Filters every page can use without {% load %} (a builtin, config/settings.py): words for keys, durations."""
from django import template
from django.utils.html import format_html

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


@register.filter
def job_attrs(message):
    """The data attributes tying a flash message to its job (core.jobs.notices), or nothing."""
    from core.jobs.notices import job_of

    found = job_of(message)
    return format_html(' data-job="{}" data-job-was="{}"', *found) if found else ""


@register.filter
def note_words(note):
    """{{ revision.note|note_words }}: the key a note ends on, in words (core.labels.note_text)."""
    return labels.note_text(note)
