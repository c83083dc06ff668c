"""Pages of proposals: /proposals/ (the form and past proposals) and /proposals/<id>/ (what it picked beside the
approved set and LIMA's, and "Accept as a review queue")."""
from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.jobs.notices import job_message
from core.roles import requires
from curation.models import Proposal
from curation.proposals.jobs import DEFAULT_SIZE, MAX_SIZE, ProposalError, accept_proposal, start_proposal
from curation.sources import plugins
from curation.workspace.bulk import BulkError

SHOWN = 20


class ProposalForm(forms.Form):
    size = forms.IntegerField(min_value=1, max_value=MAX_SIZE, initial=DEFAULT_SIZE,
                              help_text="LIMA trained on 1,000 examples")
    targets = forms.ChoiceField(choices=[("lima", "LIMA's Table 1"), ("dashboard", "The dashboard's targets")],
                                initial="lima")
    quality_weight = forms.FloatField(min_value=0, max_value=1, initial=0.5,
                                      help_text="0: diversity only · 1: quality only")
    name = forms.CharField(max_length=200, required=False, widget=forms.TextInput(attrs={"placeholder": "optional"}))


@require_http_methods(["GET", "POST"])
@requires("curation.view_proposal")
def proposal_list(request):
    can_propose = request.user.has_perm("curation.add_proposal")
    form = ProposalForm(request.POST or None)
    if request.method == "POST":
        if not can_propose:
            messages.error(request, "Only an admin can propose a set.")
            return redirect("curation-proposals")
        if form.is_valid():
            data = form.cleaned_data
            try:
                proposal = start_proposal(size=data["size"], quality_weight=data["quality_weight"],
                                          targets_from=data["targets"], name=data["name"], author=request.user)
            except ProposalError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
            else:
                return redirect("curation-proposal", pk=proposal.pk)
    proposals = Proposal.objects.select_related("created_by")[:SHOWN]
    return render(request, "curation/proposals.html", {
        "form": form, "can_propose": can_propose, "proposals": proposals,
        "polling": any(p.is_active for p in proposals),
    }, status=400 if form.errors else 200)


@require_GET
@requires("curation.view_proposal")
def proposal_detail(request, pk):
    proposal = get_object_or_404(Proposal, pk=pk)
    template = "curation/_proposal_body.html" if request.htmx else "curation/proposal.html"
    return render(request, template, detail_context(request, proposal))


@require_POST
@requires("curation.change_example")
def proposal_accept(request, pk):
    proposal = get_object_or_404(Proposal, pk=pk)
    if not request.user.has_perm("curation.add_proposal"):
        messages.error(request, "Only an admin can accept a proposal.")
        return redirect("curation-proposal", pk=pk)
    try:
        job = accept_proposal(proposal, request.user)
    except (ProposalError, BulkError) as error:
        messages.error(request, str(error))
        return redirect("curation-proposal", pk=pk)
    if job.is_active:
        job_message(request, job, f"Tagging {job.total:,} examples “{proposal.review_tag}” in the background.", messages.INFO)
    else:
        messages.success(request, f"{job.changed:,} examples tagged “{proposal.review_tag}”: their review queue.")
    return redirect(f"{reverse('curation-review')}?tag={proposal.review_tag}")


def detail_context(request, proposal):
    figures = proposal.figures or {}
    labels = plugins.buckets()
    rows = []
    composition = figures.get("composition", {})
    peak = max([1, *(max(c["quota"], c["proposed"], c["approved"]) for c in composition.values())])
    lengths = figures.get("median_response_tokens", {})
    length_peak = max([1, *(v or 0 for group in lengths.values() for v in group.values())])
    for group, counts in composition.items():
        length = lengths.get(group, {})
        rows.append({
            "label": labels.get(group, group), "group": group, **counts,
            "shortfall": proposal.shortfall.get(group, 0),
            "bars": {key: round(100 * counts[key] / peak) for key in ("quota", "proposed", "approved")},
            "length": length,
            "length_bars": {key: round(100 * (length.get(key) or 0) / length_peak)
                            for key in ("proposed", "approved", "lima_mean")},
        })
    coverage = figures.get("coverage", {})
    return {
        "proposal": proposal, "figures": figures, "excluded_total": sum(figures.get("excluded", {}).values()), "rows": rows, "coverage": coverage,
        "coverage_bars": {key: round(100 * (coverage.get(key) or 0)) for key in ("proposed", "approved")},
        "can_accept": request.user.has_perm("curation.add_proposal"),
        "polling": proposal.is_active, "can_cancel": request.user.has_perm("curation.change_proposal"),
    }
