"""Who may open the workspace, and the one way views fetch an example."""
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from curation.models import Example


def requires(permission):
    """Log in first; then the permission (annotators and admins have the workspace's), else 403."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                raise PermissionDenied(f"You need the {permission} permission.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def get_example_for_user(request, pk):
    """Every example is visible to whoever may view examples; the decorator has checked that already."""
    if not request.user.has_perm("curation.view_example"):
        raise PermissionDenied
    return get_object_or_404(Example.objects.select_related("source", "import_run", "claimed_by"), pk=pk)
