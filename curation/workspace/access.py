"""Who may open the workspace, and the one way views fetch an example."""
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from core.roles import requires  # noqa: F401 - the workspace's views import it from here
from curation.models import Example


def get_example_for_user(request, pk):
    """Every example is visible to whoever may view examples; the decorator has checked that already."""
    if not request.user.has_perm("curation.view_example"):
        raise PermissionDenied
    return get_object_or_404(Example.objects.select_related("source", "import_run", "claimed_by"), pk=pk)


def deleted_is_404(view):
    """A write that loses its race to a delete (services.ExampleGone, or a refresh that finds nothing) answers
    404 like any missing example, rather than 500."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Example.DoesNotExist as error:
            raise Http404(str(error)) from error

    return wrapped
