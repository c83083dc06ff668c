"""/duplicates/: the last pass's clusters side by side, a pass started by hand, and "keep this one, reject the
others" (the table's bulk reject, so it writes revisions and reviews and refuses stale items)."""
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from core.jobs.notices import job_message
from core.roles import requires
from curation.dedupe.jobs import start_dedupe
from curation.dedupe.models import DedupeRun, DuplicateCluster
from curation.models import Example
from curation.services import current_texts
from curation.workspace.bulk import BulkError, Selection, start_bulk_action

CLUSTERS_PER_PAGE = 20
EXCERPT = 600


def _excerpt(text):
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _members(example_ids):
    """The examples, each with `prompt_excerpt` and `response_excerpt` of its current text."""
    examples = list(Example.objects.filter(pk__in=example_ids).select_related("source").order_by("pk"))
    texts = current_texts([example.pk for example in examples])
    for example in examples:
        turns = texts[example.pk]
        example.prompt_excerpt = _excerpt("\n".join(turns[0::2]))
        example.response_excerpt = _excerpt("\n".join(turns[1::2]))
    return examples


def _group(cluster, example_ids):
    return {"cluster": cluster, "members": _members(example_ids)}


@require_GET
@requires("curation.view_example")
def duplicates_page(request):
    clusters = DuplicateCluster.objects.all()
    show_all = request.GET.get("all") == "1"
    if not show_all:  # resolved clusters (one member left that is not rejected) are out of the way
        clusters = clusters.annotate(open_members=Count("members", filter=~Q(members__example__status="rejected"))
                                     ).filter(open_members__gt=1)
    kind = request.GET.get("kind", "")
    if kind in DuplicateCluster.Kind.values:
        clusters = clusters.filter(kind=kind)
    page = Paginator(clusters.order_by("-size", "id"), CLUSTERS_PER_PAGE).get_page(request.GET.get("page"))
    groups = [_group(cluster, list(cluster.members.values_list("example_id", flat=True))) for cluster in page]
    return render(request, "curation/duplicates.html", {
        "page": page, "groups": groups, "kind": kind, "kinds": DuplicateCluster.Kind.choices, "show_all": show_all,
        "total": DuplicateCluster.objects.count(), "runs": DedupeRun.objects.all()[:5],
    })


@require_GET
@requires("curation.view_example")
def duplicate_cluster(request, pk):
    cluster = get_object_or_404(DuplicateCluster, pk=pk)
    groups = [_group(cluster, list(cluster.members.values_list("example_id", flat=True)))]
    return render(request, "curation/duplicates.html", {"groups": groups, "single": True})


@require_GET
@requires("curation.view_example")
def duplicate_group(request):
    """Examples named in `?ids=1,2`: a pair the freeze check found, shown to be resolved like a cluster."""
    try:
        ids = sorted({int(pk) for pk in request.GET.get("ids", "").split(",") if pk.strip()})
    except ValueError:
        raise Http404("ids: example ids separated by commas") from None
    if len(ids) < 2:
        raise Http404("ids: name two examples or more")
    return render(request, "curation/duplicates.html", {"groups": [_group(None, ids)], "single": True})


@require_POST
@requires("curation.add_deduperun")
def duplicates_run(request):
    run = start_dedupe(f"started by {request.user.get_username()}")
    job_message(request, run, f"Duplicate search #{run.pk} is queued for the worker.")
    return redirect("curation-duplicates")


@require_POST
@requires("curation.add_review")
def duplicates_resolve(request):
    """Keep `keep`, reject the other `members` (id:version as the page showed them) as duplicates."""
    back = request.POST.get("next", "")
    back = back if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) else "/duplicates/"
    try:
        keep = int(request.POST["keep"])
        items = dict(_item(text) for text in request.POST.getlist("members"))
    except (KeyError, ValueError):
        messages.error(request, "keep and members: the example to keep and the members (id:version) shown.")
        return redirect(back)
    items.pop(keep, None)
    if not items:
        messages.error(request, "members: nothing to reject besides the example kept.")
        return redirect(back)
    try:
        job = start_bulk_action(request.user, "reject", selection=Selection(items=items), params={
            "reason": "duplicate", "comment": f"near-duplicate of #{keep}, kept"})
    except BulkError as error:
        messages.error(request, f"{error.field}: {error}")
        return redirect(back)
    skipped = job.skipped_count
    note = f"; {skipped} skipped (changed since shown, held by a reviewer, or already rejected)" if skipped else ""
    messages.success(request, f"Kept #{keep}; rejected {job.changed} as its duplicate{'s' if job.changed != 1 else ''}"
                              f"{note}.")
    return redirect(back)


def _item(text):
    pk, _, version = text.partition(":")
    return int(pk), int(version)
