"""REST API of training (/api/training-runs/, /api/checkpoints/), registered on `router`.

GET lists and shows runs (anyone who may view them: annotators and admins). POST creates a run (admins),
and `POST /api/training-runs/{id}/cancel/`, `/resume/` and `/choose-checkpoint/` act on one (admins).
A run goes to the Celery worker on the `gpu` queue; poll its detail for progress.
"""
from django.db.models import F
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from core.params import is_id
from core.people.tokens import ApiTokenAuthentication
from training.models import Checkpoint
from training.serializers import (
    CheckpointSerializer,
    ChooseCheckpointSerializer,
    TrainingRunCreateSerializer,
    TrainingRunListSerializer,
    TrainingRunSerializer,
)
from training.services import (
    TrainingError,
    cancel_training_run,
    choose_checkpoint,
    resume_training_run,
    runs_for_listing,
    start_training_run,
)

router = SimpleRouter()

# The permission each action needs; anything else is a read.
ACTION_PERMISSIONS = {
    "create": "training.add_trainingrun",
    "cancel": "training.change_trainingrun",
    "resume": "training.change_trainingrun",
    "choose_checkpoint": "training.change_trainingrun",
}


class CanUseTrainingRuns(BasePermission):
    """Reading needs training.view_trainingrun; starting, cancelling, resuming and choosing are for admins."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.has_perm(ACTION_PERMISSIONS.get(view.action, "training.view_trainingrun"))


class Conflict(APIException):
    """The run is not in a state that allows the verb (e.g. cancelling a finished run)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class TrainingRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                         viewsets.GenericViewSet):
    # Token first, so an anonymous call is told 401 with a WWW-Authenticate header rather than 403.
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [CanUseTrainingRuns]
    queryset = runs_for_listing().prefetch_related("checkpoints__run")

    def get_serializer_class(self):
        return {
            "create": TrainingRunCreateSerializer,
            "list": TrainingRunListSerializer,
            "choose_checkpoint": ChooseCheckpointSerializer,
        }.get(self.action, TrainingRunSerializer)

    def create(self, request, *args, **kwargs):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            run = start_training_run(
                data["dataset_version"], data["base_model"], data["recipe"], user=request.user, name=data["name"],
            )
        except TrainingError as error:
            raise serializers.ValidationError({error.field or "detail": [str(error)]}) from error
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued or running run: its worker stops the engine within a heartbeat; checkpoints stay."""
        return self._act(cancel_training_run, request)

    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Queue a failed or cancelled run again, continuing from its latest resume point (mid-epoch with save_every_steps)."""
        return self._act(resume_training_run, request)

    @action(detail=True, methods=["post"], url_path="choose-checkpoint")
    def choose_checkpoint(self, request, pk=None):
        """Mark one of the run's checkpoints as the chosen one (for generation and evaluation)."""
        run = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            run = choose_checkpoint(run, form.validated_data["checkpoint"], request.user)
        except TrainingError as error:
            raise serializers.ValidationError({"checkpoint": [str(error)]}) from error
        return Response(TrainingRunSerializer(run).data)

    @action(detail=True, methods=["get"])
    def checkpoints(self, request, pk=None):
        run = self.get_object()
        return Response(CheckpointSerializer(run.checkpoints.select_related("run"), many=True).data)

    def _act(self, verb, request):
        run = self.get_object()
        try:
            run = verb(run, request.user)
        except TrainingError as error:
            raise Conflict(str(error)) from error
        return Response(TrainingRunSerializer(run).data)


class CheckpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Checkpoints of every run (`?run=` keeps one run's, `?chosen=true` the chosen ones)."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [CanUseTrainingRuns]
    serializer_class = CheckpointSerializer

    def get_queryset(self):
        checkpoints = Checkpoint.objects.select_related("run").order_by("-run_id", "epoch")
        run = self.request.query_params.get("run")
        if run:
            checkpoints = checkpoints.filter(run_id=int(run)) if is_id(run) else checkpoints.none()
        if self.request.query_params.get("chosen") in ("1", "true"):
            checkpoints = checkpoints.filter(run__chosen_checkpoint=F("pk"))
        return checkpoints


router.register("training-runs", TrainingRunViewSet, basename="api-training-run")
router.register("checkpoints", CheckpointViewSet, basename="api-checkpoint")
