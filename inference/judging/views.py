"""Pages of judging: start a judge run from a study's page, start it again, and its downloads (CSV, JSON) that
name the judge, its model and template — never an API key."""
import csv

from django.contrib import messages
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.jobs.notices import job_message
from inference.access import get_study_for_user, requires
from inference.endpoints.models import ModelEndpoint
from inference.judging.models import JudgeRun
from inference.judging.services import JudgeError, create_judge_run, judge_results, resume_judge_run

COLUMNS = ["judge_run", "judge", "judge_model", "study", "item", "prompt_key", "left_run", "right_run",
           "answer_ab", "label_ab", "answer_ba", "label_ba", "verdict", "flipped", "unparseable"]


@require_POST
@requires("inference.add_judgerun")
def judge_start(request, pk):
    study = get_study_for_user(request, pk)
    endpoint = ModelEndpoint.objects.filter(pk=request.POST.get("endpoint") or 0).first()
    if endpoint is None:
        messages.error(request, "Choose a model endpoint to judge with (add one under Endpoints).")
        return redirect("inference-study", pk=study.pk)
    try:
        max_tokens = int(request.POST.get("max_tokens") or 64)
        run = create_judge_run(study, endpoint, template=request.POST.get("template", ""), max_tokens=max_tokens,
                               user=request.user)
    except ValueError as error:  # JudgeError, or max_tokens not a number
        messages.error(request, f"The judge run was not started: {error}")
        return redirect("inference-study", pk=study.pk)
    job_message(request, run, f"Judge run #{run.pk} ({endpoint.name}) is queued: both orders of every item.")
    return redirect(reverse("inference-study", args=[study.pk]) + "#judge")


def _run_for(request, pk, run_pk):
    study = get_study_for_user(request, pk)
    return get_object_or_404(JudgeRun.objects.select_related("study", "endpoint"), pk=run_pk, study=study)


@require_POST
@requires("inference.change_judgerun")
def judge_resume(request, pk, run_pk):
    run = _run_for(request, pk, run_pk)
    try:
        resume_judge_run(run)
    except JudgeError as error:
        messages.error(request, str(error))
    else:
        job_message(request, run, f"Judge run #{run.pk} is queued again: the cache answers what it received.")
    return redirect("inference-study", pk=pk)


@require_GET
@requires("inference.view_judgerun")
def judge_json(request, pk, run_pk):
    run = _run_for(request, pk, run_pk)
    payload = {**judge_results(run), "verdicts": list(verdict_rows(run))}
    response = JsonResponse(payload, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="study-{pk}-judge-{run.pk}.json"'
    return response


class _Echo:
    def write(self, value):
        return value


@require_GET
@requires("inference.view_judgerun")
def judge_csv(request, pk, run_pk):
    run = _run_for(request, pk, run_pk)
    writer = csv.DictWriter(_Echo(), fieldnames=COLUMNS)

    def rows():
        yield writer.writerow(dict(zip(COLUMNS, COLUMNS)))
        for row in verdict_rows(run):
            yield writer.writerow(row)

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="study-{pk}-judge-{run.pk}.csv"'
    return response


def verdict_rows(run):
    verdicts = run.verdicts.select_related("item__left", "item__right", "forward", "backward").order_by("item__position")
    for v in verdicts:
        item = v.item
        yield {
            "judge_run": run.pk, "judge": run.judge_name, "judge_model": run.judge_model, "study": run.study_id,
            "item": item.position, "prompt_key": item.prompt_key, "left_run": item.left.run_id,
            "right_run": item.right.run_id if item.right else "",
            "answer_ab": v.forward.output, "label_ab": v.forward.label,
            "answer_ba": v.backward.output if v.backward else "", "label_ba": v.backward.label if v.backward else "",
            "verdict": v.label, "flipped": v.flipped, "unparseable": v.unparseable,
        }
