"""The two roles, as Django groups with permissions: annotators write, edit and review; admins also import,
freeze versions and start training."""
from fnmatch import fnmatch

from django.contrib.auth.models import Group, Permission

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
