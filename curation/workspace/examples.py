"""/examples/<id>/: an example, its revisions with a diff between any two, revert, its reviews; and the
in-place edit shared with the review page."""
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.params import is_id
from curation.dedupe.clusters import near_duplicates_of
from curation.services import StaleEdit, edit_example, revert_example
from curation.workspace import review
from curation.workspace.access import deleted_is_404, get_example_for_user, requires
from curation.workspace.diff import diff_conversations, field_changes
from curation.workspace.forms import EditForm, RevertForm
from curation.workspace.present import attribution, shown_turns

REVISION_FIELDS = ("status", "split", "domain", "tags")


def _revision_dict(revision):
    return {name: getattr(revision, name) for name in REVISION_FIELDS}


def _diff_context(example, a, b):
    revisions = {r.number: r for r in example.revisions.select_related("author")}
    latest = max(revisions)
    b = b if b in revisions else latest
    a = a if a in revisions else max(b - 1, 1)
    old, new = revisions[a], revisions[b]
    return {
        "example": example, "a": a, "b": b, "old": old, "new": new,
        "turn_diffs": diff_conversations(old.turns, new.turns),
        "changes": field_changes(_revision_dict(old), _revision_dict(new)),
        "numbers": sorted(revisions, reverse=True),
    }


def _number(value):
    return int(value) if is_id(value) else None


@require_GET
@requires("curation.view_example")
def example_detail(request, pk):
    example = get_example_for_user(request, pk)
    facts, links, others = attribution(example)
    context = {
        "example": example, "turns": shown_turns(example.conversation), "facts": facts, "links": links,
        "other_facts": others, "revisions": example.revisions.select_related("author").order_by("-number"),
        "reviews": example.reviews.select_related("reviewer", "revision"),
        **_diff_context(example, _number(request.GET.get("a")), _number(request.GET.get("b"))),
    }
    context["near_cluster"], context["near_duplicates"] = near_duplicates_of(example)
    return render(request, "curation/example.html", context)


@require_GET
@requires("curation.view_example")
def example_diff(request, pk):
    example = get_example_for_user(request, pk)
    context = _diff_context(example, _number(request.GET.get("a")), _number(request.GET.get("b")))
    return render(request, "curation/_diff.html", context)


def _edit_form(request, example, form, context_name, status=200, conflict=None, mine=None):
    context = {"example": example, "form": form, "texts": form.turn_texts, "context_name": context_name,
               "query": request.GET.urlencode(), "conflict": conflict}
    if conflict is not None:
        context.update(conflict_turns=shown_turns(conflict.conversation),
                       conflict_diff=diff_conversations(conflict.conversation, mine),
                       conflict_revision=conflict.revisions.select_related("author").order_by("-number").first())
    return HttpResponse(render_to_string("curation/_edit_form.html", context, request), status=status)


@deleted_is_404
@require_http_methods(["GET", "POST"])
@requires("curation.change_example")
def example_edit(request, pk):
    """The edit form in place (GET), or saving it (POST) against the version the form was opened at."""
    example = get_example_for_user(request, pk)
    context_name = "review" if request.GET.get("context") == "review" else "example"
    if request.method == "GET":
        form = EditForm(initial={"version": example.version, "domain": example.domain,
                                 "tags": ", ".join(example.tags)}, initial_turns=example.conversation)
        return _edit_form(request, example, form, context_name)
    form = EditForm(request.POST)
    if not form.is_valid():
        return _edit_form(request, example, form, context_name, status=422)
    data = form.cleaned_data
    try:
        example = edit_example(example, expected_version=data["version"], author=request.user,
                               turns=data["turns"], domain=data["domain"], tags=data["tags"])
    except StaleEdit as stale:
        # Nothing is lost: the form comes back with the user's text, now based on the newer version.
        newer = EditForm(request.POST.copy())
        newer.data["version"] = stale.current.version
        newer.is_valid()
        return _edit_form(request, stale.current, newer, context_name, status=409, conflict=stale.current,
                          mine=data["turns"])
    if context_name == "review":
        return review.review_panel_for(request, example, toast=f"Saved r{example.version} of #{example.pk}.")
    messages.success(request, f"Saved revision r{example.version}.")
    if request.htmx:
        response = HttpResponse("")
        response["HX-Redirect"] = f"/examples/{example.pk}/"
        return response
    return redirect("curation-example", pk=example.pk)


@deleted_is_404
@require_POST
@requires("curation.change_example")
def example_revert(request, pk):
    example = get_example_for_user(request, pk)
    form = RevertForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick a revision to revert to.")
        return redirect("curation-example", pk=pk)
    number = form.cleaned_data["number"]
    if not example.revisions.filter(number=number).exists():
        messages.error(request, f"Example #{pk} has no revision r{number}.")
        return redirect("curation-example", pk=pk)
    try:
        example = revert_example(example, number=number, author=request.user,
                                 expected_version=form.cleaned_data["version"])
    except StaleEdit as stale:
        messages.error(request, f"Not reverted: the example changed meanwhile (it is now at r{stale.current.version}). "
                                "Look at the newer revision, then try again.")
        return redirect("curation-example", pk=pk)
    messages.success(request, f"Reverted to r{number}: the content is now r{example.version}.")
    return redirect("curation-example", pk=pk)
