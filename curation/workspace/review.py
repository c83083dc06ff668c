"""/review/: the queue, one claimed example at a time, decided with the keyboard.

Every view answers with the whole page, or with the item panel alone when htmx asks (then the panel swaps in
place and the address bar follows the item through HX-Push-Url).
"""
from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from core import cached
from core.params import id_param
from curation.dedupe.clusters import near_duplicates_of
from curation.models import Example, ImportRun, Source
from curation.services import StaleEdit, edit_example, review_example
from curation.workspace import queue as review_queue
from curation.workspace.access import deleted_is_404, get_example_for_user, requires
from curation.workspace.forms import REJECT_REASONS, DecisionForm, SplitForm
from curation.workspace.present import attribution, shown_turns

DECIDED = {"approve": "Approved", "reject": "Rejected", "needs_edit": "Marked as needing an edit"}
FILTER_LISTS_SECONDS = 60  # the filter bar's choices, shared by every reviewer


def _filter_lists():
    """The filter bar's sources, recent import runs and domains: the same for everyone, so computed once a minute
    (the domains are a DISTINCT over every example)."""
    def compute():
        return {
            "sources": [{"pk": s.pk, "name": s.name} for s in Source.objects.order_by("kind", "name")],
            "import_runs": [{"pk": r.pk, "source": {"name": r.source.name}}
                            for r in ImportRun.objects.select_related("source")[:50]],
            "domains": list(Example.objects.exclude(domain="").values_list("domain", flat=True).distinct()
                            .order_by("domain")[:300]),
        }

    return cached.cached("review-filter-lists", FILTER_LISTS_SECONDS, compute)


def _query(filters):
    return urlencode(filters.as_query())


def _panel_context(request, filters, example, **extra):
    context = {"filters": filters, "query": _query(filters), "example": example, "reasons": REJECT_REASONS,
               "splits": Example.Split.choices, **extra}
    if example is not None:
        facts, links, others = attribution(example)
        context.update(
            turns=shown_turns(example.conversation), facts=facts, links=links, other_facts=others,
            held_by=extra.get("held_by", review_queue.holder(example, request.user)),
            reviews=example.reviews.select_related("reviewer")[:5],
        )
        context["near_cluster"], context["near_duplicates"] = near_duplicates_of(example)
    context["total"], context["held_by_others"] = review_queue.queue_counts(request.user, filters)
    return context


def _respond(request, filters, example, status=200, **extra):
    context = _panel_context(request, filters, example, **extra)
    if request.htmx:
        response = HttpResponse(render_to_string("curation/_review_panel.html", context, request), status=status)
        if example is not None:
            response["HX-Push-Url"] = f"/review/{example.pk}/?{context['query']}"
        return response
    context.update(**_filter_lists(), statuses=Example.Status.choices, flags=review_queue.FLAGS)
    return render(request, "curation/review.html", context, status=status)


def _done(request, filters, example, toast):
    """After a change: htmx gets the next panel at once; a plain form post is redirected (no re-post on reload)."""
    if request.htmx:
        return _respond(request, filters, example, toast=toast)
    messages.success(request, toast)
    return redirect(f"/review/{example.pk}/?{_query(filters)}" if example else f"/review/?{_query(filters)}")


@require_GET
@requires("curation.view_example")
def review_queue_page(request):
    filters = review_queue.QueueFilters.from_query(request.GET)
    example = review_queue.current_claim(request.user, filters) or review_queue.claim_next(request.user, filters)
    return _respond(request, filters, example)


@deleted_is_404
@require_GET
@requires("curation.view_example")
def review_item(request, pk):
    filters = review_queue.QueueFilters.from_query(request.GET)
    example = get_example_for_user(request, pk)
    if review_queue.holder(example, request.user) is None and not review_queue.try_claim(example.pk, request.user):
        example.refresh_from_db()  # someone took it between the two lines: show who
    return _respond(request, filters, example)


@require_GET
@requires("curation.view_example")
def review_step(request):
    """j / k: the next (or previous) free item; at either end the current item stays, with a note."""
    filters = review_queue.QueueFilters.from_query(request.GET)
    after, before = id_param(request.GET, "after"), id_param(request.GET, "before")
    current = after or before or 0
    if before:
        example = review_queue.claim_next(request.user, filters, before=current)
    else:
        example = review_queue.claim_next(request.user, filters, after=current)
    if example is not None:
        if not request.htmx:
            return redirect(f"/review/{example.pk}/?{_query(filters)}")
        return _respond(request, filters, example)
    note = "This is the first item of the queue." if before else "That was the last item of the queue."
    example = Example.objects.filter(pk=current).select_related("source").first()
    return _respond(request, filters, example, toast=note)


@deleted_is_404
@require_POST
@requires("curation.add_review")
def review_decide(request, pk):
    filters = review_queue.QueueFilters.from_query(request.GET)
    example = get_example_for_user(request, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _respond(request, filters, example, status=422, decision_errors=form.errors)
    data = form.cleaned_data
    stale = None
    with transaction.atomic():  # the claim, the decision and the next claim: one commit
        held_by_other = not review_queue.try_claim(example.pk, request.user, release_others=False)
        if not held_by_other:
            try:
                review_example(example, reviewer=request.user, decision=data["decision"], reason=data["reason"],
                               comment=data["comment"], expected_version=data["version"])
            except StaleEdit as error:  # nothing was written but the renewed claim
                stale = error
            else:
                # Claiming the next item releases this one; when none is left, it is released here.
                following = (review_queue.claim_next(request.user, filters, after=example.pk)
                             or review_queue.claim_next(request.user, filters, exclude=example.pk))
                if following is None:
                    review_queue.release_all(request.user)
    if held_by_other:
        example.refresh_from_db()
        return _respond(request, filters, example, status=409)
    if stale is not None:
        return _respond(request, filters, stale.current, status=409, stale_version=data["version"])
    return _done(request, filters, following, f"{DECIDED[data['decision']]} #{example.pk}.")


@deleted_is_404
@require_POST
@requires("curation.change_example")
def review_split(request, pk):
    filters = review_queue.QueueFilters.from_query(request.GET)
    example = get_example_for_user(request, pk)
    form = SplitForm(request.POST)
    if not form.is_valid():
        return _respond(request, filters, example, status=422, toast="Pick train, dev, test or unassigned.")
    if not review_queue.try_claim(example.pk, request.user):
        example.refresh_from_db()
        return _respond(request, filters, example, status=409)
    try:
        example = edit_example(example, expected_version=form.cleaned_data["version"], author=request.user,
                               split=form.cleaned_data["split"], note=f"split: {form.cleaned_data['split']}")
    except StaleEdit as stale:
        return _respond(request, filters, stale.current, status=409, stale_version=form.cleaned_data["version"])
    return _done(request, filters, example, f"Split set to {example.split}.")


def review_panel_for(request, example, **extra):
    """The item panel after an in-place edit (see examples.example_edit)."""
    filters = review_queue.QueueFilters.from_query(request.GET)
    response = _respond(request, filters, example, **extra)
    # The edit form lives inside the panel's conversation; the answer replaces the whole panel.
    response["HX-Retarget"] = "#review-panel"
    response["HX-Reswap"] = "outerHTML"
    return response

