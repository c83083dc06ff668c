"""Pages of training: runs with live progress, the form that starts one (with the loss-mask preview), and
a run's page with its charts, log tail and checkpoints. Every state is in the database: the pages only
read it (htmx polls the same partials the first render uses), so a reload or a closed tab changes nothing.
"""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.jobs.notices import job_message
from core.params import id_param, is_id
from curation.models import DatasetVersion
from training import charts
from training.forms import TrainingRunForm, batch_warning, trainable_versions
from training.mask_preview import load_tokenizer, preview_tokens, preview_turns
from training.models import CHOICE_WINDOW, Checkpoint
from training.services import (
    TrainingError,
    choose_checkpoint,
    resolve_base_model,
    resume_training_run,
    runs_for_listing,
    start_training_run,
)

VIEW, START, CHANGE = "training.view_trainingrun", "training.add_trainingrun", "training.change_trainingrun"
PREVIEW_MAX_LENGTH = 2048
MAX_COMPARED = 8  # loss curves on one chart: more is a tangle


def require(user, permission):
    if not user.has_perm(permission):
        raise PermissionDenied(f"You need the {permission} permission.")


def get_run_for_user(request, pk, permission=VIEW):
    """The run `pk` if the user may see it (and do `permission` to it); 403 or 404 otherwise."""
    require(request.user, permission)
    return get_object_or_404(runs_for_listing(), pk=pk)


@login_required
@require_GET
def run_list(request):
    require(request.user, VIEW)
    runs = list(runs_for_listing().annotate(checkpoint_count=Count("checkpoints"))[:100])
    context = {"runs": runs, "polling": any(run.is_active for run in runs), "can_start": request.user.has_perm(START)}
    return render(request, "training/_runs.html" if request.htmx else "training/runs.html", context)


@login_required
def run_new(request):
    require(request.user, START)
    form = TrainingRunForm(request.POST or None, preset=request.GET.get("preset"))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = start_training_run(data["dataset_version"], data["base_model"], data["overrides"],
                                     user=request.user, name=data["name"])
        except TrainingError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            job_message(request, run, f"{run.title} is queued for a GPU worker.")
            warning = batch_warning(data["dataset_version"], data["overrides"].get("batch_size"))
            if warning:
                messages.warning(request, warning)
            return redirect("training-run", pk=run.pk)
    version = form["dataset_version"].value()
    context = {"form": form, "batch_warning": batch_warning(_version(version), form["batch_size"].value())}
    return render(request, "training/new.html", context, status=422 if form.errors else 200)


@login_required
@require_GET
def batch_check(request):
    """The form's warning when the batch is larger than the chosen version's train split (htmx, as values change)."""
    require(request.user, START)
    warning = batch_warning(_version(request.GET.get("dataset_version")), request.GET.get("batch_size"))
    return render(request, "training/_batch_warning.html", {"batch_warning": warning})


def _version(pk):
    """A trainable version (with its train_count) by id, or the newest one when none is given; None if none."""
    versions = trainable_versions()
    if pk in (None, ""):
        return versions.first()
    return versions.filter(pk=_int(pk, 0)).first()


@login_required
@require_GET
def run_detail(request, pk):
    run = get_run_for_user(request, pk)
    return render(request, "training/run.html", run_context(request, run))


@login_required
@require_GET
def run_status(request, pk):
    """The live part of a run's page, polled by htmx while the run is queued or running."""
    run = get_run_for_user(request, pk)
    return render(request, "training/_run_status.html", run_context(request, run))


@login_required
@require_POST
def run_resume(request, pk):
    run = get_run_for_user(request, pk, CHANGE)
    step = run.resume_step
    done = f"Queued again: it continues from step {step}." if step is not None else "Queued again: it starts over (no resume point was written)."
    return _act(request, pk, resume_training_run, done)


@login_required
@require_POST
def run_choose(request, pk):
    run = get_run_for_user(request, pk, CHANGE)
    checkpoint = get_object_or_404(Checkpoint, pk=request.POST.get("checkpoint") or 0, run=run)
    if not checkpoint.in_window and request.POST.get("confirm") != "1":
        # LIMA chose among epochs 5-10: outside them the page asks first, with a form that posts again with confirm=1.
        context = {**run_context(request, run), "confirm_checkpoint": checkpoint, "polling": False}
        return render(request, "training/_run_status.html" if request.htmx else "training/run.html", context)
    choose_checkpoint(run, checkpoint, request.user)
    return _after_action(request, run, done=f"Epoch {checkpoint.epoch} is the chosen checkpoint of {run.title}.")


@login_required
@require_GET
def run_compare(request):
    """The loss curves of the runs given as ?runs=1&runs=2 on one chart, and what differs between them."""
    require(request.user, VIEW)
    ids = list(dict.fromkeys(int(value) for value in request.GET.getlist("runs") if is_id(value)))[:MAX_COMPARED]
    found = {run.pk: run for run in runs_for_listing().filter(pk__in=ids)}
    runs = [found[pk] for pk in ids if pk in found]
    context = {
        "runs": runs, "chart": charts.compare_chart(runs), "recent": runs_for_listing()[:50],
        "selected": {run.pk for run in runs}, "max_compared": MAX_COMPARED,
        "overridden": sorted({name for run in runs for name in (run.overrides or {})}),
    }
    return render(request, "training/compare.html", context)


def _act(request, pk, verb, done_message):
    run = get_run_for_user(request, pk, CHANGE)
    try:
        run = verb(run, request.user)
    except TrainingError as error:
        return _after_action(request, run, error=str(error))
    return _after_action(request, run, done=done_message)


def _after_action(request, run, done="", error=""):
    """htmx: the run's live part again (the change shows in place); otherwise back to the run's page."""
    if request.htmx:
        run.refresh_from_db()
        return render(request, "training/_run_status.html", {**run_context(request, run), "action_error": error})
    if error:
        messages.error(request, error)
    elif done:
        messages.success(request, done)
    return redirect("training-run", pk=run.pk)


def run_context(request, run):
    metrics = run.metrics or {}
    overrides = run.overrides or {}
    checkpoints = list(run.checkpoints.all())
    return {
        "run": run,
        "checkpoints": checkpoints,
        "last_checkpoint": checkpoints[-1] if checkpoints else None,
        "checkpoint_bytes": sum(c.bytes for c in checkpoints),
        "disk_bytes": run.disk_bytes(checkpoints),
        "window": CHOICE_WINDOW,
        "data_rows": data_rows(run.data_report or {}),
        "loss_chart": charts.loss_chart(metrics),
        "lr_chart": charts.lr_chart(metrics),
        "recipe_rows": [(name, value, name in overrides) for name, value in (run.recipe or {}).items()],
        "can_change": request.user.has_perm(CHANGE),
        "can_cancel": request.user.has_perm(CHANGE),
        "polling": run.is_active,
        "job": run,
    }


def data_rows(report):
    """Per source, what the engine made of the data: examples trained, share of the trained tokens, trimmed, cut,
    dropped; the largest share first."""
    if not report:
        return []
    fields = {"examples": "examples_by_source", "share": "source_token_share", "trimmed": "trimmed_by_source",
              "cut": "cut_by_source", "dropped": "dropped_by_source"}
    sources = sorted({source for key in fields.values() for source in report.get(key) or {}})
    rows = [{"source": source, **{name: (report.get(key) or {}).get(source, 0) for name, key in fields.items()}}
            for source in sources]
    for row in rows:
        row["percent"] = round(100 * row["share"], 1)
    return sorted(rows, key=lambda row: (-row["share"], row["source"]))


@login_required
@require_GET
def mask_preview(request):
    """One train conversation of the chosen version as the engine encodes it, trained tokens marked."""
    require(request.user, START)
    version = DatasetVersion.objects.filter(pk=id_param(request.GET, "dataset_version", 0)).first()
    items = list(version.items.filter(split="train").select_related("revision").order_by("pk")) if version else []
    if not items:
        return render(request, "training/_mask_preview.html", {"problem": "Choose a dataset version with train examples."})
    index = _int(request.GET.get("index"), 0) % len(items)
    max_length = max(16, _int(request.GET.get("max_length"), PREVIEW_MAX_LENGTH))
    turns = items[index].revision.turns
    note = ""
    base_model = (request.GET.get("base_model") or "").strip() or request.GET.get("base_model_choice") or ""
    try:
        tokenizer = load_tokenizer(resolve_base_model(base_model))
        preview = preview_tokens(tokenizer, turns, max_length, name=base_model)
    except Exception as error:  # any model folder may fail to load: say why and show the mask per utterance
        note = f"No tokenizer loaded from “{base_model or '(none)'}” ({error}); the mask is shown per utterance."
        preview = preview_turns(turns)
    context = {"preview": preview, "note": note, "index": index, "count": len(items), "next_index": (index + 1) % len(items),
               "item": items[index], "version": version}
    return render(request, "training/_mask_preview.html", context)


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
