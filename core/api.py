"""What every app's API shares: token-then-session authentication with role permissions, capped pages, 409s."""
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import APIException
from rest_framework.pagination import LimitOffsetPagination

from core.permissions import HasRole, HoldsModelPermission


class CappedLimitOffset(LimitOffsetPagination):
    max_limit = 500  # an unbounded ?limit= overflows the database's integers (found by schemathesis)


class CuratedAPI:
    """Token first: an anonymous request then gets 401 with `WWW-Authenticate: Token`, not 403."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [HasRole, HoldsModelPermission]
    pagination_class = CappedLimitOffset


class Conflict(APIException):
    status_code = 409
    default_code = "conflict"
    default_detail = "The object changed since you read it."

    def __init__(self, detail=None):
        # Kept as given: APIException would turn the numbers and the current example into strings.
        self.detail = detail if detail is not None else self.default_detail


def as_drf_error(error: DjangoValidationError):
    return serializers.ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages)
