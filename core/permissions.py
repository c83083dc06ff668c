"""Who may do what through the API. Each class asks one question; the roles' Django permissions answer it
(curation/roles.py: annotators view everything and write examples and reviews; admins do everything).

Anonymous requests fail the first question and get 401 (the views authenticate by token first, so the
response carries `WWW-Authenticate: Token`); users without a role get 403.
"""
from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions

from core.roles import role_of


class HasRole(BasePermission):
    """Is the user an annotator or an admin?"""

    message = "Your account has no role yet: ask an admin to make you an annotator."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and role_of(request.user))


class HoldsModelPermission(DjangoModelPermissions):
    """Does the user hold the permission on the view's model that this method needs (view_* for reads)?"""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class CanReview(BasePermission):
    """May the user read reviews, or record one when the method writes?"""

    def has_permission(self, request, view):
        needed = "curation.view_review" if request.method in SAFE_METHODS else "curation.add_review"
        return request.user.has_perm(needed)


class CanReadRevisions(BasePermission):
    """May the user read an example's history?"""

    def has_permission(self, request, view):
        return request.user.has_perm("curation.view_revision")
