"""What every app's API shares: token-then-session authentication with role permissions, capped pages, and
one exception handler that answers a lost race with 409, 404 or 503 and a reason, never 500."""
import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import ConflictError
from core.people.tokens import ApiTokenAuthentication
from core.permissions import HasRole, HoldsModelPermission

logger = logging.getLogger(__name__)


class CappedLimitOffset(LimitOffsetPagination):
    max_limit = 500  # an unbounded ?limit= overflows the database's integers (found by schemathesis)


class CuratedAPI:
    """Token first: an anonymous request then gets 401 with `WWW-Authenticate: Token`, not 403."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
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


def _refusal(code, reason, **headers):
    set_rollback()  # under ATOMIC_REQUESTS nothing of the refused request is kept
    return Response({"detail": reason}, status=code, headers=headers)


def exception_handler(error, context):
    """DRF's own answers first; then the errors a race leaves (REST_FRAMEWORK["EXCEPTION_HANDLER"]).

    A service names the races it knows (a ConflictError subclass, or a DoesNotExist for a deleted object);
    a constraint that still fires, or SQLite's busy lock, means the same to the client: someone else was
    writing at that moment; read again and retry."""
    response = drf_exception_handler(error, context)
    if response is not None:
        return response
    if isinstance(error, ConflictError):
        return _refusal(status.HTTP_409_CONFLICT, str(error))
    if isinstance(error, ObjectDoesNotExist):
        return _refusal(status.HTTP_404_NOT_FOUND, str(error) or "It was deleted meanwhile.")
    if isinstance(error, (ProtectedError, RestrictedError)):
        names = sorted({type(obj)._meta.verbose_name for obj in error.protected_objects if hasattr(obj, "_meta")})
        return _refusal(status.HTTP_409_CONFLICT, "It is still used" + (f" by: {', '.join(names)}." if names else "."))
    if isinstance(error, IntegrityError):
        logger.warning("A write lost a race to a constraint: %s", error)
        return _refusal(status.HTTP_409_CONFLICT,
                        "Another change to the same data was made at the same moment: read it again and retry.")
    if isinstance(error, OperationalError) and "database is locked" in str(error):
        return _refusal(status.HTTP_503_SERVICE_UNAVAILABLE,
                        "The database is busy with another write: retry in a moment.", **{"Retry-After": "1"})
    return None


# --- Jobs --------------------------------------------------------------------------------------------------

# What every job shows through the API (core.jobs.models.Job), besides its own fields.
JOB_FIELDS = [
    "status", "status_label", "phase", "phase_label", "done", "total", "progress", "error", "created_at", "started_at",
    "finished_at", "duration_text", "heartbeat_at", "cancel_requested", "worker_host", "worker_name", "attempt",
]


class JobActions:
    """The `cancel` action of a job's viewset: POST .../{id}/cancel/ -> the job (202 while it is stopping), or
    409 with the reason when it has ended. Needs the change permission of its model."""

    @extend_schema(request=None, responses={200: None, 202: None, 409: None})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        from core.jobs.runner import JobStateError, cancel
        from core.views import can_cancel

        job = self.get_object()
        if not can_cancel(request.user, job):
            raise PermissionDenied(f"You may not cancel this {job.noun}.")
        try:
            job = cancel(job)
        except JobStateError as error:
            raise Conflict({"detail": str(error), "status": job.status}) from None
        serializer = self.get_serializer_class()(job, context=self.get_serializer_context())
        return Response(serializer.data, status=200 if job.status == job.Status.CANCELLED else 202)
