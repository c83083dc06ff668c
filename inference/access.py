"""Who may open what in inference, and the one way views fetch a run, a study or an item.

Admins start generation runs and studies; annotators label and view; an account with no role sees
nothing. An annotator sees a study's results only once nothing is left for them to label (or the
study is closed): nobody sees how others judged before judging.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from core.roles import is_admin, requires, requires_role  # noqa: F401 - views import them from here
from inference import studies
from inference.models import GenerationRun, Study, StudyItem


def get_run_for_user(request, pk):
    if not request.user.has_perm("inference.view_generationrun"):
        raise PermissionDenied
    return get_object_or_404(
        GenerationRun.objects.select_related("checkpoint__run", "dataset_version", "created_by"), pk=pk
    )


def get_study_for_user(request, pk):
    if not request.user.has_perm("inference.view_study"):
        raise PermissionDenied
    return get_object_or_404(Study.objects.select_related("created_by"), pk=pk)


def get_item_for_annotator(request, study, position):
    """An item the user labelled or holds; 404 for any other, so nobody browses another's items."""
    item = get_object_or_404(StudyItem.objects.select_related("study", "left", "right"), study=study, position=position)
    if not studies.may_open(item, request.user):
        raise PermissionDenied("This item is not yours to label: take the next one from the study page.")
    return item


def can_label(user, study) -> bool:
    return user.has_perm(study.protocol.permission("add"))


def can_see_results(user, study) -> bool:
    if is_admin(user):
        return True
    if not user.has_perm("inference.view_study"):
        return False
    return not studies.has_work(study, user)
