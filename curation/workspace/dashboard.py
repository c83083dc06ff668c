"""/dashboard/: the dataset against LIMA's composition, lengths, review activity and agreement."""
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.charts.bars import bar_chart, heat_level
from curation.models import CompositionTarget, Example, Review
from curation.sources import plugins
from curation.workspace import figures
from curation.workspace.access import requires
from curation.workspace.forms import TargetsForm, target_field_name


@require_GET
@requires("curation.view_example")
def dashboard_page(request):
    today = timezone.localdate()
    lengths = figures.load_length_summaries()
    activity = figures.load_activity(today)
    for row in activity.rows:
        row.cells = [(count, heat_level(count, activity.max_count)) for count in row.counts]
    for summary in lengths:
        summary.prompt_chart = bar_chart(summary.prompt_bins, summary.lima_prompt_mean)
        summary.response_chart = bar_chart(summary.response_bins, summary.lima_response_mean)
    targets = figures.load_targets()
    context = {
        "composition": figures.load_composition(),
        "lengths": lengths,
        "activity": activity,
        "agreement": figures.load_agreement(),
        "status_counts": {s: Example.objects.filter(status=s).count() for s in Example.Status.values},
        "reviews_today": Review.objects.filter(created_at__date=today).count(),
        "can_edit_targets": request.user.has_perm("curation.change_compositiontarget"),
        "target_rows": [
            (label, [(target_field_name(split, bucket), targets.get((split, bucket), 0)) for split in figures.SPLITS])
            for bucket, label in plugins.buckets().items()
        ],
        "splits": figures.SPLITS,
    }
    return render(request, "curation/dashboard.html", context)


@require_POST
@requires("curation.change_compositiontarget")
def dashboard_targets(request):
    form = TargetsForm(request.POST, targets=figures.load_targets())
    if not form.is_valid():
        messages.error(request, "Targets are whole numbers from 0 up; nothing was changed.")
        return redirect("curation-dashboard")
    with transaction.atomic():
        for (split, bucket), target in form.targets().items():
            CompositionTarget.objects.update_or_create(
                split=split, bucket=bucket, defaults={"target": target, "updated_by": request.user}
            )
    messages.success(request, "Composition targets saved.")
    return redirect("curation-dashboard")
