"""Pages that belong to no app: the health probe, and the cancel button of every kind of job."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core import health
from core.jobs.kinds import KINDS
from core.jobs.notices import job_message
from core.jobs.runner import JobStateError, cancel
from core.theme import set_theme

FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False, "": False}


@never_cache
def healthz(request):
    """The probe (no login, no secrets): `/healthz/` is liveness (the database answers) for load balancers;
    `/healthz/?full=1` checks the database, the broker, a worker on each queue and free disk (core.health).
    200 when every required part is up, 503 otherwise, with the same JSON either way."""
    full = request.GET.get("full", "0").strip().lower()
    if full not in FLAGS:
        return JsonResponse({"detail": "full: 1 (every check) or 0 (the database only)."}, status=400)
    ok, checks = health.readiness() if FLAGS[full] else health.liveness()
    return JsonResponse({"status": "ok" if ok else "down", "checks": checks}, status=200 if ok else 503)


def can_cancel(user, job):
    """Who may stop a job: whoever may change that kind of row (admins)."""
    meta = job._meta
    return user.has_perm(f"{meta.app_label}.change_{meta.model_name}")


@login_required
@require_POST
def job_cancel(request, label, pk):
    kind = KINDS.get(label)
    if kind is None:
        raise Http404("No such kind of job.")
    job = get_object_or_404(kind.model, pk=pk)
    if not can_cancel(request.user, job):
        raise PermissionDenied(f"You may not cancel this {kind.noun}.")
    try:
        job = cancel(job)
    except JobStateError as error:
        messages.error(request, str(error))
    else:
        job_message(request, job, f"{kind.noun.capitalize()} #{job.pk} was cancelled." if job.status == job.Status.CANCELLED
                    else f"Stopping {kind.noun} #{job.pk}: its worker stops it within a few seconds.", messages.INFO)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = "/"
    return redirect(target)


@login_required
@require_POST
def theme_choose(request):
    """The header's theme toggle: stored on the user, then back to the page it was pressed on."""
    try:
        set_theme(request.user, request.POST.get("theme", ""))
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    if request.headers.get("HX-Request") or request.headers.get("Accept") == "application/json":
        return JsonResponse({"theme": request.POST["theme"]})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = "/"
    return redirect(target)
