"""Pages of inference: generation runs (/generations/), studies (/studies/: list, new, results, the blind
labelling page) and the playground (/playground/, replies streamed as they are generated).

The labelling page answers htmx with the item panel alone (the address bar follows through HX-Push-Url).
It never names a model, a run or a generation, not even in attributes: items are known by position.
"""
import csv

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.jobs.notices import job_message
from core.markdown import render_markdown
from core.params import is_id
from curation.models import Example
from inference import drafts, playground, results, studies
from inference.access import (
    can_label,
    can_see_results,
    get_item_for_annotator,
    get_run_for_user,
    get_study_for_user,
    requires,
    requires_role,
)
from inference.checks import length_charts, run_checks
from inference.endpoints.client import EndpointError
from inference.forms import (
    CheckpointSelectionForm,
    DraftForm,
    GenerationRunForm,
    ImportResponsesForm,
    LabelForm,
    PlaygroundForm,
    StudyForm,
)
from inference.judging.services import judging_context
from inference.models import DraftRun, Generation, GenerationRun, ModelEndpoint, Study, StudyItem
from inference.services import (
    GenerationError,
    choose_checkpoint,
    create_generation_run,
    import_responses,
    resume_generation_run,
    save_upload,
    start_checkpoint_selection,
)

RUNS_SHOWN = 50
GENERATIONS_PER_PAGE = 20

# --- Generation runs --------------------------------------------------------------------------------------


def _runs_context():
    runs = list(GenerationRun.objects.select_related("checkpoint__run", "dataset_version", "created_by")[:RUNS_SHOWN])
    return {"runs": runs, "polling": any(run.is_active for run in runs)}


def _start_from_form(request, action):
    """Run the form the admin submitted; returns (redirect or None, bound form)."""
    if action == "generate":
        form = GenerationRunForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            prompts = save_upload(data["prompts"]) if data["prompts"] else ""
            run = create_generation_run(
                name=data["name"], checkpoint=data["checkpoint"], model_path=data["model_path"].strip(),
                endpoint=data["endpoint"],
                dataset_version=data["dataset_version"], split=data["split"], prompts_file=prompts,
                decoding=form.decoding(), seed=data["seed"], batch_size=data["batch_size"], user=request.user,
            )
            job_message(request, run, f"Generation #{run.pk} is queued "
                        + ("(it asks the endpoint)." if run.endpoint_id else "for the GPU worker."))
            return redirect("inference-generation", pk=run.pk), form
    elif action == "import":
        form = ImportResponsesForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            run = import_responses(save_upload(data["responses"]), name=data["name"].strip(),
                                   dataset_version=data["dataset_version"], split=data["split"], user=request.user)
            messages.success(request, f"Imported {run.total} responses of {run.name}.")
            return redirect("inference-generation", pk=run.pk), form
    else:
        form = CheckpointSelectionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            runs = start_checkpoint_selection(
                data["training_run"], split=data["split"], decoding=form.decoding(), seed=data["seed"],
                epochs=(data["first_epoch"], data["last_epoch"]), user=request.user,
            )
            messages.success(request, f"{len(runs)} generation runs are queued, one per checkpoint. Once they "
                                      "finish, compare them in a study.")
            return redirect(f"{reverse('inference-study-new')}?runs={','.join(str(r.pk) for r in runs)}"), form
    return None, form


@require_http_methods(["GET", "POST"])
@requires("inference.view_generationrun")
def generation_list(request):
    can_start = request.user.has_perm("inference.add_generationrun")
    forms = {"generate": GenerationRunForm(), "import": ImportResponsesForm(), "select": CheckpointSelectionForm()}
    active = request.GET.get("form", "generate")
    if request.method == "POST":
        if not can_start:
            raise PermissionDenied("Only admins start generation runs.")
        active = request.POST.get("action", "generate")
        if active not in forms:
            active = "generate"
        try:
            done, forms[active] = _start_from_form(request, active)
        except GenerationError as error:
            done = None
            forms[active] = _bound(active, request)
            forms[active].add_error(None, str(error))
        if done is not None:
            return done
    return render(request, "inference/generations.html",
                  {**_runs_context(), "forms": forms, "active": active, "can_start": can_start})


def _bound(action, request):
    form = {"generate": GenerationRunForm, "import": ImportResponsesForm}.get(action, CheckpointSelectionForm)
    bound = form(request.POST, request.FILES) if form is not CheckpointSelectionForm else form(request.POST)
    bound.is_valid()
    return bound


@require_GET
@requires("inference.view_generationrun")
def generation_runs(request):
    return render(request, "inference/_generation_runs.html", _runs_context())


@require_GET
@requires("inference.view_generationrun")
def generation_detail(request, pk):
    run = get_run_for_user(request, pk)
    page = Paginator(Generation.objects.filter(run=run).select_related("dataset_item"), GENERATIONS_PER_PAGE)
    generations = page.get_page(request.GET.get("page"))
    shown = [(g, mark_safe(render_markdown(g.prompt[-1] if g.prompt else "")), mark_safe(render_markdown(g.response)))
             for g in generations]
    return render(request, "inference/generation.html", {
        "run": run, "job": run, "page": generations, "shown": shown, "polling": run.is_active,
        "studies": run.studies.all()[:20], "can_cancel": request.user.has_perm("inference.change_generationrun"),
        "checks": run_checks(run) if run.status == GenerationRun.Status.SUCCEEDED else {},
        "can_resume": request.user.has_perm("inference.change_generationrun") and run.kind == GenerationRun.Kind.MODEL
        and run.status in (GenerationRun.Status.FAILED, GenerationRun.Status.CANCELLED),
    })


@require_POST
@requires("inference.change_generationrun")
def generation_resume(request, pk):
    """Start a failed or cancelled run again: an endpoint's run asks only for the answers it is missing."""
    run = get_run_for_user(request, pk)
    try:
        resume_generation_run(run)
    except GenerationError as error:
        messages.error(request, str(error))
    else:
        kept = run.generations.count()
        job_message(request, run, f"Generation #{run.pk} is queued again" + (
            f"; the {kept} answers it has are kept." if run.endpoint_model and kept else "."))
    return redirect("inference-generation", pk=run.pk)


@require_GET
@requires("inference.view_generationrun")
def generation_status(request, pk):
    run = get_run_for_user(request, pk)
    response = render(request, "inference/_generation_status.html", {
        "run": run, "job": run, "polling": run.is_active,
        "can_cancel": request.user.has_perm("inference.change_generationrun"),
    })
    if request.GET.get("was") in ("queued", "running") and not run.is_active:
        response["HX-Refresh"] = "true"  # finished: reload to show the responses
    return response


# --- Model drafts -----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@requires("inference.view_draftrun")
def draft_list(request):
    """Draft answers to prompt-only examples with a checkpoint; annotators then edit them."""
    can_start = request.user.has_perm("inference.add_draftrun")
    form = DraftForm(request.POST or None) if can_start else None
    if request.method == "POST":
        if not can_start:
            raise PermissionDenied("Only admins ask a model for drafts.")
        if form.is_valid():
            data = form.cleaned_data
            examples = drafts.prompt_only(form.examples()).order_by("pk")[:data["limit"]]
            try:
                run = drafts.start_drafts(
                    Example.objects.filter(pk__in=list(examples.values_list("pk", flat=True))),
                    checkpoint=data["checkpoint"], model_path=data["model_path"].strip(), decoding=form.decoding(),
                    user=request.user,
                )
            except GenerationError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Drafting {run.total} answers with {run.name} on the GPU worker.")
                return redirect("inference-draft", pk=run.pk)
    runs = list(DraftRun.objects.select_related("created_by")[:RUNS_SHOWN])
    waiting = drafts.prompt_only(Example.objects.exclude(status="rejected")).count()
    return render(request, "inference/drafts.html", {"form": form, "runs": runs, "waiting": waiting,
                                                     "can_start": can_start}, status=400 if form is not None and form.errors else 200)


@require_GET
@requires("inference.view_draftrun")
def draft_detail(request, pk):
    run = get_object_or_404(DraftRun.objects.select_related("created_by", "checkpoint__run"), pk=pk)
    context = {"run": run, "job": run, "polling": run.is_active,
               "can_cancel": request.user.has_perm("inference.change_draftrun"),
               "written": Example.objects.filter(pk__in=run.written or []).order_by("pk")[:200]}
    template = "inference/_draft_status.html" if request.htmx else "inference/draft.html"
    response = render(request, template, context)
    if request.htmx and request.GET.get("was") in ("queued", "running") and not run.is_active:
        response["HX-Refresh"] = "true"
    return response


# --- Studies ----------------------------------------------------------------------------------------------


@require_GET
@requires("inference.view_study")
def study_list(request):
    rows = []
    for study in Study.objects.select_related("created_by").prefetch_related("runs"):
        rows.append({"study": study, "progress": studies.progress(study, request.user),
                     "has_work": studies.has_work(study, request.user) and can_label(request.user, study),
                     "can_see_results": can_see_results(request.user, study)})
    return render(request, "inference/studies.html", {
        "rows": rows, "can_create": request.user.has_perm("inference.add_study"),
    })


@require_http_methods(["GET", "POST"])
@requires("inference.add_study")
def study_new(request):
    chosen = [int(pk) for pk in request.GET.get("runs", "").split(",") if is_id(pk)]
    pending = GenerationRun.objects.filter(pk__in=chosen).exclude(status=GenerationRun.Status.SUCCEEDED)
    if request.method == "POST":
        form = StudyForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                study = studies.create_study(
                    name=data["name"], runs=form.runs(), kind=data["kind"], pairing=data["pairing"],
                    pairs_per_prompt=data["pairs_per_prompt"] or 1,
                    overlap=data["overlap"], sample_size=data["sample_size"], seed=data["seed"],
                    instructions=data["instructions"], user=request.user,
                )
            except studies.StudyError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Study #{study.pk} is open with {study.items.count()} items.")
                return redirect("inference-study", pk=study.pk)
    else:
        initial = {"first_run": chosen[0], "other_runs": chosen[1:]} if chosen else {}
        if len(chosen) > 2:
            initial["pairing"] = Study.Pairing.ALL  # checkpoints of one run: every pair
        form = StudyForm(initial=initial)
    return render(request, "inference/study_new.html", {"form": form, "pending": pending})


@require_GET
@requires("inference.view_study")
def study_detail(request, pk):
    study = get_study_for_user(request, pk)
    context = {"study": study, "progress": studies.progress(study, request.user),
               "has_work": studies.has_work(study, request.user) and can_label(request.user, study),
               "can_manage": request.user.has_perm("inference.change_study"),
               "can_see_results": can_see_results(request.user, study)}
    if context["can_see_results"]:
        found = results.study_results(study)
        context.update(results=found, chart=study.protocol.chart(found), length_charts=length_charts(found),
                       choosable=_choosable(found) if context["can_manage"] else [])
        if request.user.has_perm("inference.view_judgerun"):
            context["judging"] = judging_context(study, request.user, found)
    return render(request, "inference/study.html", context)


def _choosable(found):
    """Ranked runs whose checkpoint belongs to a training run: the admin may mark one as chosen."""
    return [row for row in found["ranking"] if row["checkpoint"] and row["score"] is not None]


def _results_or_403(request, pk):
    study = get_study_for_user(request, pk)
    if not can_see_results(request.user, study):
        raise PermissionDenied("Results open once you have labelled every item left for you.")
    return study


@require_GET
@requires("inference.view_study")
def study_results_json(request, pk):
    study = _results_or_403(request, pk)
    payload = {**results.study_results(study), "labels": list(results.label_rows(study))}
    response = JsonResponse(payload, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-results.json"'
    return response


class _Echo:
    def write(self, value):
        return value


@require_GET
@requires("inference.view_study")
def study_results_csv(request, pk):
    study = _results_or_403(request, pk)
    writer = csv.DictWriter(_Echo(), fieldnames=study.protocol.columns)
    rows = (writer.writerow(row) for row in results.label_rows(study))
    response = StreamingHttpResponse(_with_header(writer, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-labels.csv"'
    return response


def _with_header(writer, rows):
    yield writer.writerow(dict(zip(writer.fieldnames, writer.fieldnames)))
    yield from rows


@require_POST
@requires("inference.change_study")
def study_toggle(request, pk):
    study = studies.set_open(get_study_for_user(request, pk), request.POST.get("open") == "1")
    messages.info(request, f"Study #{study.pk} is {'open' if study.is_open else 'closed'}.")
    return redirect("inference-study", pk=study.pk)


@require_POST
@requires("inference.change_study")
def study_choose(request, pk):
    study = get_study_for_user(request, pk)
    from training.models import Checkpoint

    checkpoint = get_object_or_404(Checkpoint.objects.select_related("run"), pk=request.POST.get("checkpoint"),
                                   generation_runs__studies=study)
    if not request.user.has_perm("training.change_trainingrun"):
        raise PermissionDenied("You need the training.change_trainingrun permission.")
    choose_checkpoint(checkpoint, request.user)
    messages.success(request, f"Epoch {checkpoint.epoch} is now the chosen checkpoint of {checkpoint.run.title}.")
    return redirect("inference-study", pk=study.pk)


# --- Labelling --------------------------------------------------------------------------------------------


def _item_context(request, study, item):
    protocol = study.protocol
    positions = studies.labelled_positions(study, request.user)
    label = protocol.labels_of(study).filter(item=item, annotator=request.user).first()
    prompt = item.left.prompt
    return {
        "study": study, "item": item, "current": label.label if label else "",
        "earlier_turns": [(i % 2 == 0, mark_safe(render_markdown(text))) for i, text in enumerate(prompt[:-1])],
        "prompt_html": mark_safe(render_markdown(prompt[-1])),
        "responses_html": [mark_safe(render_markdown(g.response)) for g in protocol.generations(item)],
        "has_previous": any(p < item.position for p in positions),
        "instructions_html": mark_safe(render_markdown(study.instructions)) if study.instructions else "",
        "done_count": len(positions), "progress": studies.progress(study, request.user),
    }


def _panel(request, study, item, status=200):
    """The item (or the end of the queue) as a page, or as the panel alone for htmx."""
    if item is None:
        context = {"study": study, "progress": studies.progress(study, request.user),
                   "can_see_results": can_see_results(request.user, study),
                   "has_previous": bool(studies.labelled_positions(study, request.user))}
        template, url = "inference/_study_done.html", reverse("inference-study-annotate", args=[study.pk])
    else:
        context = _item_context(request, study, item)
        template, url = "inference/_study_item.html", reverse("inference-study-item", args=[study.pk, item.position])
    if request.htmx:
        response = HttpResponse(render_to_string(template, context, request), status=status)
        response["HX-Push-Url"] = url
        return response
    return render(request, "inference/annotate.html", {**context, "panel": template}, status=status)


@require_GET
@requires("inference.view_study")
def study_annotate(request, pk):
    study = get_study_for_user(request, pk)
    if not can_label(request.user, study):
        raise PermissionDenied("Only annotators and admins label.")
    return _panel(request, study, studies.next_item(study, request.user))


@require_http_methods(["GET", "POST"])
@requires("inference.view_study")
def study_item(request, pk, position):
    study = get_study_for_user(request, pk)
    if not can_label(request.user, study):
        raise PermissionDenied("Only annotators and admins label.")
    if request.method == "GET":
        return _panel(request, study, get_item_for_annotator(request, study, position))
    # Not get_item_for_annotator: a claim may have lapsed on an item that still needs this label.
    item = get_object_or_404(StudyItem.objects.select_related("study", "left", "right"), study=study, position=position)
    form = LabelForm(request.POST)
    try:
        if not form.is_valid():
            raise studies.StudyError("Choose a label.")
        studies.record_label(item, request.user, form.cleaned_data["label"])
    except studies.StudyError as error:
        messages.error(request, str(error))
        mine = studies.may_open(item, request.user)
        return _panel(request, study, item if mine else studies.next_item(study, request.user), status=422)
    following = studies.step(study, request.user, item.position, +1)
    if not request.htmx:
        if following is None:
            return redirect("inference-study-annotate", pk=study.pk)
        return redirect("inference-study-item", pk=study.pk, position=following.position)
    return _panel(request, study, following)


@require_GET
@requires("inference.view_study")
def study_step(request, pk, position):
    """j / k from an item: the next or previous of the user's own items."""
    study = get_study_for_user(request, pk)
    direction = -1 if request.GET.get("direction") == "previous" else +1
    target = studies.step(study, request.user, position, direction)
    if target is None and direction < 0:
        target = get_item_for_annotator(request, study, position)
    return _panel(request, study, target)


# --- Playground -------------------------------------------------------------------------------------------


@require_GET
@requires_role
def playground_page(request):
    initial = request.GET.get("endpoint") if is_id(request.GET.get("endpoint")) else None
    if not initial and is_id(request.GET.get("checkpoint")):
        served = ModelEndpoint.objects.filter(checkpoint_id=int(request.GET["checkpoint"])).first()
        initial = served.pk if served else None
    form = PlaygroundForm(initial={"endpoint": initial})
    return render(request, "inference/playground.html", {
        "form": form, "has_models": form.fields["endpoint"].queryset.exists(),
        "can_manage_endpoints": request.user.has_perm("inference.add_modelendpoint"),
    })


@require_POST
@requires_role
def playground_stream(request):
    """The reply as plain text chunks, sent as the endpoint writes them (read by playground.js)."""
    form = PlaygroundForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": {k: [str(e) for e in v] for k, v in form.errors.items()}}, status=422)
    data = form.cleaned_data
    try:
        pieces = playground.stream_reply(data["endpoint"], data["turns"], form.decoding(), seed=data["seed"])
        first = next(pieces, "")  # a refused or unreachable endpoint surfaces here, as a 422, before the stream
    except EndpointError as error:
        return JsonResponse({"errors": {"endpoint": [str(error)]}}, status=422)

    def body():
        try:
            yield first.encode("utf-8")
            for piece in pieces:
                yield piece.encode("utf-8")
        except EndpointError as error:  # the status line has gone: say it in the text
            yield f"\n\n[{error}]".encode()
        finally:
            pieces.close()  # the browser went away: end the request to the endpoint

    response = StreamingHttpResponse(body(), content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each chunk on as it comes
    return response
