"""Pages of dataset versions: /datasets/ (list; freeze form with a check preview for admins), /datasets/<id>/
(manifest, charts, exports) and /datasets/<a>/diff/<b>/. Exports themselves are the API's streamed endpoint."""
import os
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.charts.hbars import hbar_chart, histogram
from core.jobs.notices import job_message
from core.params import is_id
from core.roles import requires
from curation.datasets import versions as datasets
from curation.datasets.export_jobs import ExportRequestError, start_export
from curation.datasets.exports import SPLITS, file_name
from curation.datasets.formats import all_formats
from curation.datasets.freeze_jobs import needs_a_job, start_freeze_job
from curation.models import DatasetVersion, Example, FreezeJob, Source, source_kinds

DIFF_ROWS_SHOWN = 100
FREEZE_JOBS_SHOWN_FOR = timedelta(hours=1)  # finished freezes stay on the list page this long


def get_version_for_user(request, pk):
    if not request.user.has_perm("curation.view_datasetversion"):
        raise PermissionDenied
    return get_object_or_404(DatasetVersion.objects.select_related("created_by"), pk=pk)


def _comma_list(value):
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class FreezeForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. lima-1k-2026-11"}))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    status = forms.ChoiceField(choices=[*Example.Status.choices, ("any", "Any status")], initial="approved")
    sources = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                        help_text="None ticked: every source")
    splits = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                       choices=Example.Split.choices, help_text="None ticked: every split")
    domains = forms.CharField(required=False, help_text="Comma-separated; empty for all")
    tags = forms.CharField(required=False, help_text="Comma-separated; an example with any of them")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        present = Source.objects.order_by().values_list("kind", flat=True).distinct()
        self.fields["sources"].choices = [(k, label) for k, label in source_kinds() if k in set(present)]

    def selection(self):
        data = self.cleaned_data
        return datasets.Selection.from_dict({
            "status": data["status"], "sources": data["sources"], "splits": data["splits"],
            "domains": _comma_list(data["domains"]), "tags": _comma_list(data["tags"]),
        })


class CheckForm(FreezeForm):
    """The same fields; a check needs no name yet."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False


def _freeze_jobs_context(request):
    # The recent freezes, and any still at work however old.
    recent = FreezeJob.objects.filter(finished_at__gte=timezone.now() - FREEZE_JOBS_SHOWN_FOR)
    jobs = list((recent | FreezeJob.objects.filter(status__in=FreezeJob.ACTIVE)).order_by("-created_at")[:10])
    return {"freeze_jobs": jobs, "freeze_polling": any(job.is_active for job in jobs),
            "can_freeze": request.user.has_perm("curation.add_datasetversion")}


def _list_context(request, form=None, report=None, error=None):
    can_freeze = request.user.has_perm("curation.add_datasetversion")
    return {
        **_freeze_jobs_context(request),
        "versions": DatasetVersion.objects.select_related("created_by")[:200],
        "can_freeze": can_freeze,
        "form": form if form is not None else (FreezeForm() if can_freeze else None),
        "report": report,
        "error": error,
    }


@require_GET
@requires("curation.view_datasetversion")
def dataset_list(request):
    return render(request, "curation/datasets.html", _list_context(request))


def _report_context(report):
    return {"report": report, "pairs": datasets.describe_overlaps(report.overlaps)}


@require_GET
@requires("curation.view_datasetversion")
def dataset_freeze_jobs(request):
    """The freezes running in the background, polled by the list page while one is at work."""
    return render(request, "curation/_freeze_jobs.html", _freeze_jobs_context(request))


@require_POST
@requires("curation.add_datasetversion")
def dataset_check(request):
    """The htmx preview beside the freeze form: counts, duplicates in train, contamination pairs."""
    form = CheckForm(request.POST)
    if not form.is_valid():
        return render(request, "curation/_datasets_check.html", {"form_errors": form.errors}, status=400)
    try:
        report = datasets.check_selection(form.selection())
    except datasets.FreezeError as error:
        return render(request, "curation/_datasets_check.html", {"form_errors": {error.field: [str(error)]}}, status=400)
    return render(request, "curation/_datasets_check.html", _report_context(report))


@require_POST
@requires("curation.add_datasetversion")
def dataset_freeze(request):
    form = FreezeForm(request.POST)
    if not form.is_valid():
        return render(request, "curation/datasets.html", _list_context(request, form), status=400)
    try:
        selection = form.selection()
        if needs_a_job(selection):
            job = start_freeze_job(form.cleaned_data["name"], selection=selection, author=request.user,
                                   description=form.cleaned_data["description"])
            job_message(request, job, f"Freezing {job.total:,} examples as {job.name!r} in the background: "
                                   "the version appears below once it is ready.", messages.INFO)
            return redirect("curation-datasets")
        frozen = datasets.freeze_version(
            form.cleaned_data["name"], selection=selection, author=request.user,
            description=form.cleaned_data["description"],
        )
    except datasets.FreezeError as error:
        report = (datasets.check_selection(selection)
                  if isinstance(error, (datasets.DuplicateTrainExamples, datasets.NearDuplicateExamples)) else None)
        context = _list_context(request, form, error=str(error))
        if report is not None:
            context.update(_report_context(report))
        return render(request, "curation/datasets.html", context, status=400)
    version = frozen.version
    messages.success(request, f"Froze {version.name!r}: {version.example_count} examples, sha256 {version.content_hash[:12]}…")
    if frozen.overlaps:
        messages.warning(request, f"{len(frozen.overlaps)} dev/test prompts also appear in train: see Contamination below.")
    return redirect("curation-dataset", pk=version.pk)


def _export_table(version):
    splits = [s for s in SPLITS if s in (version.manifest or {}).get("by_split", {})]
    base = reverse("api-dataset-export", args=[version.pk])
    return {
        "splits": splits,
        "rows": [
            {
                "format": fmt.name,
                "label": fmt.label,
                "note": fmt.note,
                "links": [
                    {"split": split or "all", "url": f"{base}?format={fmt.name}" + (f"&split={split}" if split else ""),
                     "file": file_name(version.pk, fmt.name, split or None)}
                    for split in ["", *splits]
                ],
            }
            for fmt in all_formats()
        ],
    }


def _jobs_context(request, version):
    jobs = list(version.export_jobs.all()[:10])
    return {
        "version": version,
        "jobs": jobs,
        "polling": any(job.is_active for job in jobs),
        "can_export": request.user.has_perm("curation.add_exportjob"),
        "formats": all_formats(),
        "splits": SPLITS[:3],
    }


@require_GET
@requires("curation.view_datasetversion")
def dataset_detail(request, pk):
    version = get_version_for_user(request, pk)
    manifest = version.manifest or {}
    context = {
        "version": version,
        "manifest": manifest,
        "multi_turn": sum(n for turns, n in manifest.get("by_turns", {}).items() if int(turns) > 2),
        "charts": {
            "split": hbar_chart(manifest.get("by_split", {})),
            "source": hbar_chart(manifest.get("by_source", {})),
            "domain": hbar_chart(manifest.get("by_domain", {})),
        },
        "lengths": histogram(manifest.get("length_histogram", [])),
        "contamination": manifest.get("contamination", {"count": 0, "pairs": []}),
        "exports": _export_table(version),
        "others": DatasetVersion.objects.exclude(pk=version.pk).only("pk", "name")[:100],
        "selection_rows": [
            (key, ", ".join(map(str, value)) if isinstance(value, list) else value)
            for key, value in (version.selection or {}).items()
        ],
        **_jobs_context(request, version),
    }
    return render(request, "curation/datasets_detail.html", context)


@require_http_methods(["GET", "POST"])
@requires("curation.view_datasetversion")
def dataset_exports(request, pk):
    """The background exports of a version (an htmx partial that polls while one runs); POST starts one."""
    version = get_version_for_user(request, pk)
    error = None
    if request.method == "POST":
        if not request.user.has_perm("curation.add_exportjob"):
            raise PermissionDenied("Only admins start background exports.")
        try:
            start_export(version, fmt=request.POST.get("format", ""), split=request.POST.get("split", ""),
                         metadata=request.POST.get("metadata") == "on", author=request.user)
        except ExportRequestError as problem:
            error = str(problem)
    context = {**_jobs_context(request, version), "error": error}
    return render(request, "curation/_datasets_export_jobs.html", context, status=400 if error else 200)


@require_GET
@requires("curation.view_datasetversion")
def dataset_compare(request, pk):
    """The compare form's target: /datasets/<pk>/compare/?other=<id> -> the diff page."""
    other = request.GET.get("other", "")
    if not is_id(other):
        messages.error(request, "Choose a version to compare with.")
        return redirect("curation-dataset", pk=pk)
    return redirect("curation-dataset-diff", pk=pk, other=int(other))


def _pinned(version, example_ids):
    """{example id: (split, turns)} as pinned in `version`."""
    rows = version.items.filter(example_id__in=example_ids).values_list("example_id", "split", "revision__turns")
    return {pk: (split, turns) for pk, split, turns in rows}


def _first_difference(old_turns, new_turns, context=60, length=220):
    """(turn number from 1, role, before, after) of the first turn that differs, both excerpts starting a little
    before the first character that differs, so that an edit at the end of a long answer shows."""
    for i in range(max(len(old_turns), len(new_turns))):
        before = old_turns[i] if i < len(old_turns) else ""
        after = new_turns[i] if i < len(new_turns) else ""
        if before != after:
            same = len(os.path.commonprefix([before, after]))
            start = max(0, same - context)

            def excerpt(text, start=start):
                part = text[start:start + length]
                return ("…" if start else "") + part + ("…" if len(text) > start + length else "")

            return i + 1, ("user", "assistant")[i % 2], excerpt(before), excerpt(after)
    return None


@require_GET
@requires("curation.view_datasetversion")
def dataset_diff(request, pk, other):
    old = get_version_for_user(request, pk)
    new = get_version_for_user(request, other)
    found = datasets.diff_versions(old, new)
    added, removed, changed = (found.added[:DIFF_ROWS_SHOWN], found.removed[:DIFF_ROWS_SHOWN],
                               found.changed[:DIFF_ROWS_SHOWN])
    in_new = _pinned(new, added + [row[0] for row in changed])
    in_old = _pinned(old, removed + [row[0] for row in changed])
    context = {
        "old": old,
        "new": new,
        "diff": found,
        "same_content": old.content_hash == new.content_hash,
        "added": [(pk_, in_new[pk_][1][0]) for pk_ in added],
        "removed": [(pk_, in_old[pk_][1][0]) for pk_ in removed],
        "changed": [
            {"example": pk_, "old": a, "new": b, "what": what, "prompt": in_new[pk_][1][0],
             "old_split": in_old[pk_][0], "new_split": in_new[pk_][0],
             "turn": _first_difference(in_old[pk_][1], in_new[pk_][1])}
            for pk_, a, b, what in changed
        ],
        "shown": DIFF_ROWS_SHOWN,
    }
    return render(request, "curation/datasets_diff.html", context)
