"""The similar-examples panel (an htmx partial of the example and review pages) and /signals/, where an admin
starts a signal run and follows it."""
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.jobs.notices import job_message
from core.params import is_id
from core.roles import requires
from core.views import can_cancel
from curation.models import Example
from curation.signals.jobs import SignalError, start_run
from curation.signals.models import SIGNALS, SignalRun
from curation.signals.search import similar_examples
from curation.workspace.access import get_example_for_user

SIGNAL_HELP = {
    "embedding": "Sentence embeddings (all-MiniLM-L6-v2 unless SIGNALS_EMBEDDING_MODEL): similar examples and "
                 "search by meaning",
    "length_percentile": "Response length percentile within its source and domain (“Long Is More for Alignment”)",
    "style": "LIMA's style warnings of the responses, the write page's check (fills the table's Style column)",
    "ifd": "Instruction-following difficulty by a small causal LM (SIGNALS_IFD_MODEL; “From Quantity to Quality”)",
}


@require_GET
@requires("curation.view_example")
def similar_panel(request, pk):
    example = get_example_for_user(request, pk)
    k = request.GET.get("k", "")
    k = int(k) if is_id(k) and 0 < int(k) <= 50 else 5
    error = ""
    try:
        hits = similar_examples(example, k=k)
    except FileNotFoundError as exc:  # the embedding model is not where the setting says
        hits, error = [], str(exc)
    shown = {e.pk: e for e in Example.objects.filter(pk__in=[pk for pk, _ in hits]).select_related("source", "summary")}
    rows = [{"example": shown[pk], "score": score} for pk, score in hits if pk in shown]
    return render(request, "curation/_similar.html", {"example": example, "rows": rows, "error": error})


def _runs_context(request):
    runs = list(SignalRun.objects.select_related("created_by")[:20])
    return {"runs": runs, "polling": any(run.is_active for run in runs),
            "can_cancel": bool(runs) and can_cancel(request.user, runs[0]),
            "can_start": request.user.has_perm("curation.add_signalrun"),
            "signals": [(signal, SIGNAL_HELP[signal]) for signal in SIGNALS]}


@require_GET
@requires("curation.view_signalrun")
def signals_page(request):
    context = _runs_context(request)
    if request.htmx and request.htmx.target == "signal-runs":
        return render(request, "curation/_signal_runs.html", context)
    return render(request, "curation/signals.html", context)


@require_POST
@requires("curation.add_signalrun")
def signals_start(request):
    try:
        run = start_run(request.POST.get("signal", ""), author=request.user,
                        everything=request.POST.get("everything") == "on")
    except SignalError as error:
        messages.error(request, str(error))
    else:
        job_message(request, run, f"Signal run #{run.pk} ({run.signal}) is queued.", messages.INFO)
    return redirect("curation-signals")
