"""Pages of imports: /imports/ (runs with live progress, the upload form for admins) and /imports/<id>/
(progress, counts per reason, the rule report with a re-run per rule loosened, rejected records grouped by
reason, each with a rescue button)."""
import json
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.jobs.notices import job_message
from core.labels import label
from core.markdown import render_markdown
from core.roles import requires
from core.views import can_cancel
from curation.imports.ingest import (
    AlreadyImported,
    ImportOptionError,
    is_count_only,
    rescue_record,
    save_upload,
    start_import,
)
from curation.imports.paths import PathRefused, confine
from curation.imports.rules import CannotLoosen, rerun_loosened, rule_report, run_warnings
from curation.imports.uploads import refusal
from curation.models import ImportRun, RejectedRecord
from curation.sources import plugins

ACTIVE = (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING)
PREVIEW_PER_REASON = 5
PAGE_SIZE = 25
RUNS_SHOWN = 50


def get_import_run_for_user(request, pk):
    if not request.user.has_perm("curation.view_importrun"):
        raise PermissionDenied
    return get_object_or_404(ImportRun.objects.select_related("source", "created_by"), pk=pk)


class ImportForm(forms.Form):
    kind = forms.ChoiceField(choices=lambda: [(kind.kind, kind.label) for kind in plugins.all_kinds() if kind.importable])
    file = forms.FileField(required=False, help_text="Posts.xml or a site's .7z, a CSV, an NDJSON/.zst, a task JSON, a JSONL")
    path = forms.CharField(required=False, help_text="…or a file or folder on the server")
    name = forms.CharField(required=False, max_length=200,
                           help_text="Source name; default from the file. A Stack Exchange Posts.xml whose name "
                                     "does not tell its site needs it: the site, e.g. coffee.stackexchange.com")
    seed = forms.IntegerField(initial=0)
    target = forms.CharField(required=False, help_text='Per group (Stack Exchange: STEM and other), or "all"')
    tau = forms.FloatField(required=False, min_value=0.0001, help_text="LIMA: 3")
    options = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text='Parser options as JSON, e.g. {"subreddits": ["WritingPrompts"]}')

    def clean_target(self):
        value = self.cleaned_data["target"].strip()
        if value in ("", "all"):
            return value or None
        if not value.isdigit():
            raise ValidationError('A whole number or "all".')
        return int(value)

    def clean_options(self):
        text = self.cleaned_data["options"].strip()
        try:
            value = json.loads(text) if text else {}
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Not JSON: {exc.msg} (column {exc.colno}).") from None
        if not isinstance(value, dict):
            raise ValidationError("A JSON object, e.g. {\"site\": \"cooking.stackexchange.com\"}.")
        return value

    def clean(self):
        data = super().clean()
        if bool(data.get("file")) == bool((data.get("path") or "").strip()):
            raise ValidationError("Upload a file or give a server path (one of the two).")
        return data

    def import_options(self):
        data = self.cleaned_data
        options = dict(data["options"], seed=data["seed"])
        if data["target"] is not None:
            options["target"] = data["target"]
        if data["tau"] is not None:
            options["tau"] = data["tau"]
        return options


def _runs_context():
    runs = list(ImportRun.objects.select_related("source", "created_by")[:RUNS_SHOWN])
    return {"runs": runs, "polling": any(run.status in ACTIVE for run in runs)}


@require_http_methods(["GET", "POST"])
@requires("curation.view_importrun")
def import_list(request):
    can_import = request.user.has_perm("curation.add_importrun")
    form = ImportForm(initial={"seed": 0})
    if request.method == "POST":
        if not can_import:
            raise PermissionDenied("Only admins start imports.")
        form = ImportForm(request.POST, request.FILES)
        if refusal(request):
            form.is_valid()
            form.errors.clear()
            form.add_error("file", refusal(request))
        elif form.is_valid():
            data = form.cleaned_data
            try:
                path = save_upload(data["file"]) if data["file"] else confine(data["path"])
                run = start_import(data["kind"], path, name=data["name"] or None,
                                   options=form.import_options(), user=request.user)
            except AlreadyImported as done:
                messages.info(request, str(done))
                return redirect("curation-import", pk=done.run.pk)
            except PathRefused as exc:
                form.add_error("path", str(exc))
            except ImportOptionError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                job_message(request, run, f"Import #{run.pk} of {run.source.name} is queued for the worker.")
                return redirect("curation-import", pk=run.pk)
    return render(request, "curation/imports.html", {**_runs_context(), "form": form, "can_import": can_import},
                  status=413 if request.method == "POST" and refusal(request) else 200)


@require_GET
@requires("curation.view_importrun")
def import_runs(request):
    """The runs table alone, polled by the list page while a run is active."""
    return render(request, "curation/_import_runs.html", _runs_context())


@dataclass
class ShownRecord:
    record: RejectedRecord
    prompt_html: str
    response_html: str
    response_chars: int
    url: str


def _shown(records):
    shown = []
    for record in records:
        turns = record.turns or []
        response = "\n\n".join(turns[1:])
        shown.append(ShownRecord(
            record=record,
            prompt_html=mark_safe(render_markdown(turns[0])) if turns else "",
            response_html=mark_safe(render_markdown(response)) if response else "",
            response_chars=len(response),
            url=record.metadata.get("answer_url") or record.metadata.get("url") or "",
        ))
    return shown


def _reasons(run):
    """(reason, counted, stored, count_only) for every reason of the run, the largest first."""
    stored = dict(run.rejected_records.order_by().values_list("reason").annotate(n=Count("id")))
    return [
        {"reason": reason, "counted": counted, "stored": stored.get(reason, 0), "count_only": is_count_only(reason)}
        for reason, counted in sorted(run.rejected_by_reason.items(), key=lambda item: (-item[1], item[0]))
    ]


def _status_context(request, run):
    return {"run": run, "job": run, "reasons": _reasons(run), "polling": run.status in ACTIVE,
            "can_cancel": can_cancel(request.user, run)}


@require_GET
@requires("curation.view_importrun")
def import_detail(request, pk):
    run = get_import_run_for_user(request, pk)
    context = _status_context(request, run)
    reason = request.GET.get("reason")
    if reason:
        page = Paginator(run.rejected_records.filter(reason=reason), PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(reason=reason, page=page, records=_shown(page.object_list))
    else:
        # Reasons whose records carry text (the ones worth rescuing) first; score-only ones last.
        rows = sorted((row for row in context["reasons"] if row["stored"]), key=lambda row: row["count_only"])
        context["groups"] = [
            {**row, "records": _shown(run.rejected_records.filter(reason=row["reason"])[:PREVIEW_PER_REASON])}
            for row in rows
        ]
    context["can_rescue"] = request.user.has_perm("curation.add_example")
    if not reason:
        context.update(rules=rule_report(run), warnings=run_warnings(run),
                       can_rerun=request.user.has_perm("curation.add_importrun"))
    return render(request, "curation/import_detail.html", context)


@require_POST
@requires("curation.add_importrun")
def rerun(request, pk):
    """The same import again, with the rule of one reason loosened (the rule report's buttons)."""
    run = get_import_run_for_user(request, pk)
    reason = request.POST.get("reason", "")
    try:
        new_run = rerun_loosened(run, reason, request.user)
    except (CannotLoosen, ImportOptionError) as exc:
        messages.error(request, str(exc))
        return redirect("curation-import", pk=run.pk)
    job_message(request, new_run, f"Import #{new_run.pk} re-reads {run.source.name} with “{label(reason)}” loosened.")
    return redirect("curation-import", pk=new_run.pk)


@require_GET
@requires("curation.view_importrun")
def import_status(request, pk):
    """Progress and counts, polled while the run is active; the whole page reloads when it ends."""
    run = get_import_run_for_user(request, pk)
    response = render(request, "curation/_import_status.html", _status_context(request, run))
    if request.GET.get("was") in ACTIVE and run.status not in ACTIVE:
        response["HX-Refresh"] = "true"  # the rejected records and final counts are in: show them
    return response


@require_POST
@requires("curation.add_example")
def rescue(request, pk, record_pk):
    run = get_import_run_for_user(request, pk)
    record = get_object_or_404(RejectedRecord, pk=record_pk, import_run=run)
    try:
        example = rescue_record(record, request.user)
    except ValidationError as exc:
        message = f"{record.external_id} cannot become an example: {' '.join(exc.messages)}"
        if request.htmx:
            return render(request, "curation/_rejected_record.html",
                          {"shown": _shown([record])[0], "run": run, "can_rescue": True, "error": message})
        messages.error(request, message)
        return redirect(f"{reverse('curation-import', args=[run.pk])}?reason={record.reason}")
    record.refresh_from_db()
    if request.htmx:
        return render(request, "curation/_rejected_record.html",
                      {"shown": _shown([record])[0], "run": run, "can_rescue": True})
    messages.success(request, f"{record.external_id} is now candidate example #{example.pk}.")
    return redirect(f"{reverse('curation-import', args=[run.pk])}?reason={record.reason}")
