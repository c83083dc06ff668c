"""/write/: a new hand-written example, with a live preview and style check as the annotator types."""
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.params import is_id
from curation.models import Example
from curation.services import create_example, manual_source
from curation.workspace.access import requires
from curation.workspace.forms import WriteForm
from curation.workspace.present import shown_turns


def _domains():
    return Example.objects.exclude(domain="").values_list("domain", flat=True).distinct().order_by("domain")[:300]


@require_http_methods(["GET", "POST"])
@requires("curation.add_example")
def write(request):
    if request.method == "POST":
        form = WriteForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            example = create_example(turns=data["turns"], source=manual_source(), domain=data["domain"],
                                     split=data["split"], tags=data["tags"], author=request.user, note="written")
            return redirect(f"/write/?saved={example.pk}")
    else:
        form = WriteForm()
    saved = Example.objects.filter(pk=request.GET.get("saved", "") or 0, created_by=request.user).first() \
        if is_id(request.GET.get("saved", "")) else None
    context = {"form": form, "texts": form.turn_texts, "turns": shown_turns(form.turn_texts),
               "domains": _domains(), "saved": saved, "has_input": request.method == "POST"}
    return render(request, "curation/write.html", context, status=422 if form.errors else 200)


@require_POST
@requires("curation.add_example")
def write_preview(request):
    """The preview column: every turn rendered and checked (lengths, LIMA's style); warnings, never blocks."""
    form = WriteForm(request.POST)
    return render(request, "curation/_write_preview.html", {"turns": shown_turns(form.turn_texts)})
