"""/examples/: every example in one table — search, filters, sortable columns, keyset pages — and bulk actions on
the rows picked (or on all that match). The query is curation.workspace.table's, the actions curation.workspace
.bulk's; these views only read the request and render.

htmx swaps the results (#examples-results) when a filter, a sort or a page changes, and the report of a bulk
action (#bulk-report), which polls while a worker runs it and then asks the results to refresh.
"""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.params import is_id
from core.roles import requires
from core.views import can_cancel
from curation.models import BulkActionJob, Example, ImportRun, Source
from curation.workspace import registry
from curation.workspace.bulk import BulkError, Selection, allowed_actions, get_action, skip_label, start_bulk_action
from curation.workspace.forms import REJECT_REASONS
from curation.workspace.search import WITHIN
from curation.workspace.table import FLAGS, PAGE_SIZES, REVIEWED, SORTS, WITHIN_LABELS, Sort, TableFilters, table_page

REFRESH = "examples-changed"  # the event that makes the results reload themselves
LAID_OUT = {"approve", "reject", "split", "tag", "untag", "queue"}  # actions the bar lays out with their inputs


# The built-in columns in the order the rows show them: (sort key or None, label, numeric, help). Added columns
# (curation.workspace.registry) come after them, then "Changed".
BUILT_IN_COLUMNS = [
    ("id", "#", True, ""),
    (None, "Prompt", False, ""),
    ("source", "Source", False, ""),
    ("domain", "Domain", False, ""),
    ("status", "Status", False, ""),
    ("split", "Split", False, ""),
    ("prompt", "Prompt length", True, "Characters of the user's turns, and estimated tokens (four characters a token)"),
    ("response", "Response length", True, "Characters of the assistant's turns, and estimated tokens"),
    ("turns", "Turns", True, "Multi-turn: more than one exchange; prompt only: a prompt with no answer (test prompts)"),
]


def _href(filters, **params):
    query = filters.as_query(**{name: value for name, value in params.items() if value})
    return "/examples/" + (f"?{query}" if query else "")


def _headers(sort, columns, filters, size):
    def header(key, label, numeric, help_text, sortable=True):
        return {"key": key or "prompt_text", "label": label, "numeric": numeric, "help": help_text,
                "href": _href(filters, size=size, sort=sort.link(key)) if key and sortable else "",
                "active": key is not None and sort.key == key}

    return [
        *(header(*entry) for entry in BUILT_IN_COLUMNS),
        *(header(c.key, c.label, c.numeric, c.help, c.sortable) for c in columns),
        header("updated", "Changed", False, "When the example last changed"),
    ]


def _page_size(request):
    value = request.GET.get("size", "")
    return int(value) if is_id(value) and int(value) in PAGE_SIZES else None


def _results_context(request):
    filters = TableFilters.from_query(request.GET)
    sort = Sort.parse(request.GET.get("sort"), filters)
    size = _page_size(request)
    cursor = request.GET.get("cursor", "")
    page = table_page(filters, sort=sort, cursor=cursor, size=size)
    columns = registry.columns()
    keep = {"size": size} if size else {}
    actions = allowed_actions(request.user)
    return {
        "filters": filters,
        "page": page,
        "sort": sort,
        "sort_label": SORTS[sort.key][0] if sort.key in SORTS else getattr(sort.column, "label", sort.key),
        # Every link of the results keeps the filters and page size; pages keep the sort; a reload keeps the page.
        "query": filters.as_query(**keep),
        "self_query": filters.as_query(**keep, sort=sort.param, **({"cursor": cursor} if cursor else {})),
        "columns": columns,
        "headers": _headers(sort, columns, filters, size),
        "first_href": _href(filters, size=size, sort=sort.param),
        "prev_href": _href(filters, size=size, sort=sort.param, cursor=page.prev_cursor),
        "next_href": _href(filters, size=size, sort=sort.param, cursor=page.next_cursor),
        "rows": [{"example": example, "cells": [(column, column.cell(example)) for column in columns]}
                 for example in page.rows],
        "as_of": timezone.now().isoformat(),
        "actions": actions,
        "action_keys": {action.key for action in actions},
        "other_actions": [action for action in actions if action.key not in LAID_OUT],
        "reasons": REJECT_REASONS,
        "splits": Example.Split.choices,
        "page_sizes": PAGE_SIZES,
        "size": page.size,
    }


@require_GET
@requires("curation.view_example")
def examples_table(request):
    context = _results_context(request)
    if request.htmx and request.htmx.target == "examples-results":
        return render(request, "curation/_examples_results.html", context)
    context.update(
        sources=Source.objects.order_by("kind", "name"),
        import_runs=ImportRun.objects.select_related("source")[:50],
        domains=Example.objects.exclude(domain="").values_list("domain", flat=True).distinct().order_by("domain")[:300],
        statuses=Example.Status.choices, flags=FLAGS, reviewed_choices=REVIEWED,
        within_choices=[(value, WITHIN_LABELS[value]) for value in WITHIN],
        active_filters=len([name for name in context["filters"].as_dict() if name not in ("q", "within", "semantic")]),
        extra_filters=[(entry, context["filters"].extra_value(entry.key)) for entry in registry.filters()],
    )
    return render(request, "curation/examples.html", context)


def _selection(request):
    if request.POST.get("scope") == "all":
        filters = QueryDict(request.POST.get("query", ""))
        return Selection.from_dict({"filters": dict(filters.items()), "as_of": request.POST.get("as_of")}, strict=False)
    items = {}
    for value in request.POST.getlist("item"):
        pk, _, version = value.partition(":")
        items[pk] = version
    return Selection.from_dict({"items": items})


def _report(request, job, status=200, error=None, field=None):
    context = {"job": job, "error": error, "field": field,
               "action": get_action(job.action) if job is not None else None,
               "can_cancel": job is not None and can_cancel(request.user, job)}
    if job is not None and context["action"] is not None:
        context["skipped"] = [
            {"reason": reason, "label": skip_label(context["action"], reason), "count": entry["count"],
             "ids": entry["ids"], "more": entry["count"] - len(entry["ids"])}
            for reason, entry in sorted((job.skipped or {}).items())
        ]
    response = render(request, "curation/_examples_bulk_report.html", context, status=status)
    if job is not None and job.is_finished and job.changed:
        response["HX-Trigger"] = REFRESH
    return response


@require_POST
@requires("curation.view_example")
def examples_bulk(request):
    """The action bar: one action on the rows picked, or on all matching the filters as the page showed them."""
    params = {name: request.POST.get(name, "") for name in ("reason", "comment", "split", "tag")}
    try:
        job = start_bulk_action(request.user, request.POST.get("action", ""), params=params,
                                selection=_selection(request))
    except BulkError as error:
        if not request.htmx:
            messages.error(request, str(error))
            return redirect(f"/examples/?{request.POST.get('query', '')}")
        return _report(request, None, status=422, error=str(error), field=error.field)
    except PermissionDenied as denied:
        if not request.htmx:
            raise
        return _report(request, None, status=403, error=str(denied))
    if not request.htmx:
        action = get_action(job.action)
        messages.info(request, f"{action.label}: {job.changed:,} {action.done}, {job.skipped_count:,} skipped."
                      if job.is_finished else f"{action.label} of {job.total:,} examples runs in the background.")
        return redirect(f"/examples/?{request.POST.get('query', '')}")
    return _report(request, job)


@require_GET
@requires("curation.view_example")
def examples_bulk_status(request, pk):
    """The report of one bulk action; polled while it is queued or running."""
    return _report(request, get_object_or_404(BulkActionJob, pk=pk))

