"""The two roles, as Django groups with permissions: annotators write, edit and review; admins also import,
freeze versions and start training."""
from fnmatch import fnmatch
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied

ANNOTATOR = "annotator"
ADMIN = "admin"

# Permission codenames per app label, as shell patterns. Apps added later are covered by their patterns.
ROLE_PERMISSIONS = {
    ANNOTATOR: {
        "curation": ["view_*", "add_example", "change_example", "add_turn", "change_turn", "delete_turn",
                     "add_review", "add_revision"],
        "training": ["view_*"],
        # Not the generation runs: who wrote which response stays hidden from the people judging them.
        "inference": ["view_study", "view_studyitem", "add_judgment", "change_judgment", "add_rating",
                      "change_rating"],
    },
    ADMIN: {
        "curation": ["*"],
        "training": ["*"],
        "inference": ["*"],
        "authtoken": ["*"],
    },
}


def ensure_roles():
    """Create or refresh both groups; safe to run any number of times."""
    groups = {}
    for role, patterns_by_app in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [
            permission
            for permission in Permission.objects.select_related("content_type")
            if any(fnmatch(permission.codename, pattern)
                   for pattern in patterns_by_app.get(permission.content_type.app_label, []))
        ]
        group.permissions.set(wanted)
        groups[role] = group
    return groups


def role_of(user):
    """'admin', 'annotator' or '' for display and checks."""
    if not user.is_authenticated:
        return ""
    if user.is_superuser:
        return ADMIN
    names = {group.name for group in user.groups.all()}
    if ADMIN in names:
        return ADMIN
    if ANNOTATOR in names:
        return ANNOTATOR
    return ""


def is_admin(user):
    return role_of(user) == ADMIN


def requires(permission):
    """View decorator: log in first; then `permission` (which the roles grant), else 403."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                raise PermissionDenied(f"You need the {permission} permission.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def requires_role(view):
    """View decorator: log in first; then an annotator or admin role, else 403."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not role_of(request.user):
            raise PermissionDenied("Your account has no role yet: ask an admin to make you an annotator.")
        return view(request, *args, **kwargs)

    return wrapped
