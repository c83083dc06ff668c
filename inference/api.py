"""REST API viewsets of inference, registered on `router` (mounted under /api/ by config/api_urls.py).

/api/generation-runs/                  list; POST starts one (admins): a checkpoint × a version's split or prompts
/api/generation-runs/import/           POST multipart: another model's responses as a baseline (admins)
/api/generation-runs/{id}/             detail with progress and lineage
/api/generation-runs/{id}/cancel/      POST (admins)
/api/generation-runs/{id}/generations/ the responses
/api/studies/                          list; POST creates one from generation runs (admins)
/api/studies/{id}/                     detail
/api/studies/{id}/results/             the protocol's results (win/tie/loss or rating shares, with 95 % intervals;
                                       agreement), the ranking and the lineage
/api/studies/{id}/next/                GET the caller's next blind item (204 when none)
/api/studies/{id}/labels/              POST {position, label}: record the caller's label (annotators)

Anonymous requests get 401; accounts without a role 403. An annotator reads a study's results only once
nothing is left for them to label.
"""
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from core.api import JobActions
from core.people.tokens import ApiTokenAuthentication
from core.permissions import HasRole, HoldsModelPermission
from inference import protocols, results, services, studies
from inference.access import can_see_results
from inference.models import GenerationRun, Study
from inference.serializers import (
    BlindItemSerializer,
    GenerationRunSerializer,
    GenerationSerializer,
    ImportResponsesSerializer,
    LabelSerializer,
    StudySerializer,
)

router = SimpleRouter()


class InferenceAPI:
    """Token first: an anonymous request then gets 401 with `WWW-Authenticate: Token`, not 403."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [HasRole, HoldsModelPermission]


class CanChangeRuns(BasePermission):
    """May the user start or import generation runs?"""

    def has_permission(self, request, view):
        return request.user.has_perm("inference.add_generationrun")


class CanLabel(BasePermission):
    """May the user record labels of some protocol (judgments, ratings)?"""

    def has_permission(self, request, view):
        return any(request.user.has_perm(protocol.permission("add")) for protocol in protocols.all_protocols())


class GenerationRunViewSet(InferenceAPI, JobActions, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = "[0-9]+"
    serializer_class = GenerationRunSerializer
    queryset = GenerationRun.objects.select_related("checkpoint", "dataset_version")

    @extend_schema(request={"multipart/form-data": ImportResponsesSerializer},
                   responses={201: GenerationRunSerializer})
    @action(detail=False, methods=["post"], url_path="import", permission_classes=[HasRole, CanChangeRuns])
    def import_responses(self, request):
        form = ImportResponsesSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            run = services.import_responses(
                services.save_upload(data["responses"]), name=data.get("name", "").strip(),
                dataset_version=data.get("dataset_version"), split=data.get("split", ""), user=request.user,
            )
        except services.GenerationError as error:
            raise ValidationError({"detail": str(error)}) from None
        return Response(GenerationRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=GenerationSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=LimitOffsetPagination)
    def generations(self, request, pk=None):
        run = self.get_object()
        page = self.paginate_queryset(run.generations.order_by("position"))
        return self.get_paginated_response(GenerationSerializer(page, many=True).data)


class StudyViewSet(InferenceAPI, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = "[0-9]+"
    serializer_class = StudySerializer
    queryset = Study.objects.all()

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 403: OpenApiResponse(description="Label your items first")})
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        study = self.get_object()
        if not can_see_results(request.user, study):
            raise PermissionDenied("Results open once you have labelled every item left for you.")
        return Response(results.study_results(study))

    @extend_schema(responses={200: BlindItemSerializer, 204: None})
    @action(detail=True, methods=["get"], permission_classes=[HasRole, CanLabel])
    def next(self, request, pk=None):
        study = self.get_object()
        item = studies.next_item(study, request.user)
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        protocol = study.protocol
        return Response(BlindItemSerializer({
            "position": item.position, "prompt": item.left.prompt, "labels": protocol.label_values,
            "responses": [generation.response for generation in protocol.generations(item)],
        }).data)

    @extend_schema(request=LabelSerializer, responses={201: LabelSerializer})
    @action(detail=True, methods=["post"], permission_classes=[HasRole, CanLabel])
    def labels(self, request, pk=None):
        study = self.get_object()
        form = LabelSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        item = study.items.filter(position=form.validated_data["position"]).first()
        if item is None:
            raise ValidationError({"position": "No such item in this study."})
        try:
            studies.record_label(item, request.user, form.validated_data["label"])
        except studies.StudyError as error:
            raise ValidationError({"detail": str(error)}) from None
        except DjangoPermissionDenied as error:
            raise PermissionDenied(str(error)) from None
        return Response(form.validated_data, status=status.HTTP_201_CREATED)


router.register("generation-runs", GenerationRunViewSet, basename="generation-run")
router.register("studies", StudyViewSet, basename="study")
