"""REST API viewsets of curation, registered on `router` (mounted under /api/ by config/api_urls.py).

/api/sources/                         read
/api/examples/                        CRUD, turns nested; filters; cursor pagination; 409 on a stale version
/api/examples/{id}/reviews/           list, record a review
/api/examples/{id}/revisions/         the example's history
/api/datasets/                        list; POST freezes a version (admins)
/api/datasets/check/                  POST: what freezing a selection would meet (admins)
/api/datasets/{id}/                   detail with manifest
/api/datasets/{id}/export/            ?format=&split=&metadata= streamed
/api/datasets/{a}/diff/{b}/           added, removed, changed examples
/api/exports/                         background exports (admins start them); /api/exports/{id}/download/
"""
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, ProtectedError
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from . import datasets
from .datasets import MAX_ID
from .export_jobs import ExportRequestError, check_export_request, job_path, start_export
from .exports import EXPORT_FORMATS, SPLITS, content_type, file_name, iter_export_chunks
from .models import DatasetVersion, Example, ExportJob, Source, Turn
from .permissions import CanReadRevisions, CanReview, HasRole, HoldsModelPermission
from .serializers import (
    CheckReportSerializer, CheckRequestSerializer, DatasetVersionDetailSerializer, DatasetVersionSerializer, DiffSerializer,
    ExampleSerializer, ExportJobSerializer, ExportRequestSerializer, FreezeSerializer, FrozenSerializer,
    ReviewSerializer, RevisionSerializer, SourceSerializer,
)

router = SimpleRouter()


class CappedLimitOffset(LimitOffsetPagination):
    max_limit = 500  # an unbounded ?limit= overflows the database's integers (found by schemathesis)


class CuratedAPI:
    """Token first: an anonymous request then gets 401 with `WWW-Authenticate: Token`, not 403."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [HasRole, HoldsModelPermission]
    pagination_class = CappedLimitOffset


class SourceViewSet(CuratedAPI, viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = "[0-9]+"
    queryset = Source.objects.all()
    serializer_class = SourceSerializer


class ExampleCursor(CursorPagination):
    ordering = "-id"  # newest first; stable under inserts, unlike page numbers
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def _choice(request, name, choices):
    value = request.query_params.get(name)
    if value and value not in choices:
        raise ValidationError({name: f"Unknown {name} {value!r}: choose one of {', '.join(choices)}."})
    return value


EXAMPLE_FILTERS = [
    OpenApiParameter("status", str, enum=Example.Status.values),
    OpenApiParameter("source", str, description="A source id or kind (stackexchange, wikihow, …)"),
    OpenApiParameter("domain", str),
    OpenApiParameter("split", str, enum=Example.Split.values),
    OpenApiParameter("search", str, description="Text in any turn (case-insensitive)"),
]


@extend_schema_view(list=extend_schema(parameters=EXAMPLE_FILTERS))
class ExampleViewSet(CuratedAPI, viewsets.ModelViewSet):
    lookup_value_regex = "[0-9]+"
    serializer_class = ExampleSerializer
    pagination_class = ExampleCursor
    queryset = Example.objects.all()

    def get_queryset(self):
        examples = Example.objects.select_related("source").prefetch_related(
            Prefetch("turns", queryset=Turn.objects.order_by("position"))
        )
        if self.action != "list":
            return examples
        params = self.request.query_params
        if value := _choice(self.request, "status", Example.Status.values):
            examples = examples.filter(status=value)
        if value := _choice(self.request, "split", Example.Split.values):
            examples = examples.filter(split=value)
        if value := params.get("source"):
            if value.isdigit() and int(value) > MAX_ID:
                raise ValidationError({"source": f"No source has the id {value}."})
            examples = examples.filter(source_id=int(value)) if value.isdigit() else examples.filter(source__kind=value)
        if value := params.get("domain"):
            examples = examples.filter(domain=value)
        if value := params.get("search"):
            examples = examples.filter(Exists(Turn.objects.filter(example=OuterRef("pk"), text__icontains=value)))
        return examples

    def perform_destroy(self, example):
        try:
            with transaction.atomic():
                example.delete()
        except ProtectedError as error:
            from .serializers import Conflict

            raise Conflict(f"Example #{example.pk} is part of a frozen dataset version: it cannot be deleted.") from error

    @extend_schema(request=ReviewSerializer, responses={200: ReviewSerializer(many=True), 201: ReviewSerializer})
    @action(detail=True, methods=["get", "post"], permission_classes=[HasRole, CanReview], pagination_class=None)
    def reviews(self, request, pk=None):
        example = self.get_object()
        if request.method == "GET":
            reviews = example.reviews.select_related("reviewer", "revision")
            return Response(ReviewSerializer(reviews, many=True).data)
        serializer = ReviewSerializer(data=request.data, context={"request": request, "example": example})
        serializer.is_valid(raise_exception=True)
        review = serializer.save()
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=RevisionSerializer(many=True))
    @action(detail=True, methods=["get"], permission_classes=[HasRole, CanReadRevisions], pagination_class=None)
    def revisions(self, request, pk=None):
        example = self.get_object()
        revisions = example.revisions.select_related("author").order_by("-number")
        return Response(RevisionSerializer(revisions, many=True).data)


class ExportNegotiation(BaseContentNegotiation):
    """An export picks its own content type from ?format= (not a renderer name here), whatever Accept says;
    errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def streamed_export(version, fmt, split, metadata):
    response = StreamingHttpResponse(iter_export_chunks(version, fmt, split or None, metadata), content_type=content_type(fmt))
    response["Content-Disposition"] = f'attachment; filename="{file_name(version.pk, fmt, split or None)}"'
    response["X-Content-Hash"] = version.content_hash
    return response


def _flag(value, name):
    if value in (None, "", "true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValidationError({name: "Use true or false."})


@extend_schema_view(create=extend_schema(request=FreezeSerializer, responses={201: FrozenSerializer}))
class DatasetVersionViewSet(CuratedAPI, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = DatasetVersion.objects.select_related("created_by")
    lookup_value_regex = "[0-9]+"

    def get_serializer_class(self):
        return DatasetVersionSerializer if self.action == "list" else DatasetVersionDetailSerializer

    def create(self, request, *args, **kwargs):
        freeze = FreezeSerializer(data=request.data)
        freeze.is_valid(raise_exception=True)
        try:
            frozen = datasets.freeze_version(
                freeze.validated_data["name"],
                selection=datasets.Selection.from_dict(freeze.validated_data.get("selection")),
                author=request.user,
                description=freeze.validated_data["description"],
            )
        except datasets.DuplicateTrainExamples as error:
            raise ValidationError({"selection": [str(error)], "duplicates": error.groups}) from error
        except datasets.FreezeError as error:
            raise ValidationError({error.field: [str(error)]}) from error
        return Response(FrozenSerializer(frozen.version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CheckRequestSerializer, responses=CheckReportSerializer)
    @action(detail=False, methods=["post"], url_path="check")
    def check_selection(self, request):
        """What freezing this selection would meet: counts, duplicates in train, dev/test prompts found in train."""
        checked = CheckRequestSerializer(data=request.data)
        checked.is_valid(raise_exception=True)
        try:
            selection = datasets.Selection.from_dict(checked.validated_data.get("selection"))
        except datasets.FreezeError as error:
            raise ValidationError({error.field: [str(error)]}) from error
        return Response(datasets.check_selection(selection).as_dict())

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=list(EXPORT_FORMATS), required=True),
            OpenApiParameter("split", str, enum=list(SPLITS)),
            OpenApiParameter("metadata", bool, description="id, split and attribution on every line (default true)"),
        ],
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.BINARY, description="JSONL, streamed"),
            (200, "application/vnd.apache.parquet"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "application/x-tar"): OpenApiResponse(OpenApiTypes.BINARY, description="hf: a datasets folder"),
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=ExportNegotiation)
    def export(self, request, pk=None):
        """The version in one format, streamed in constant memory; the same version and format give the same bytes."""
        version = self.get_object()
        fmt = request.query_params.get("format", "")
        split = request.query_params.get("split", "")
        try:
            check_export_request(version, fmt, split)
        except ExportRequestError as error:
            raise ValidationError({error.field: [str(error)]}) from error
        return streamed_export(version, fmt, split, _flag(request.query_params.get("metadata"), "metadata"))

    @extend_schema(
        parameters=[OpenApiParameter("other", int, OpenApiParameter.PATH, description="The newer version")],
        responses=DiffSerializer,
    )
    @action(detail=True, methods=["get"], url_path=r"diff/(?P<other>[0-9]+)")
    def diff(self, request, pk=None, other=None):
        """Examples added, removed and changed (same example, other content or split) from this version to another."""
        old = self.get_object()
        new = get_object_or_404(DatasetVersion, pk=other)
        found = datasets.diff_versions(old, new)
        return Response({
            "old": old.pk, "new": new.pk, "added": found.added, "removed": found.removed,
            "changed": [
                {"example": pk, "old_revision": a, "new_revision": b, "changed": what}
                for pk, a, b, what in found.changed
            ],
            "unchanged": found.unchanged,
        })


class ExportJobViewSet(CuratedAPI, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = ExportJob.objects.all()
    lookup_value_regex = "[0-9]+"
    serializer_class = ExportJobSerializer

    @extend_schema(request=ExportRequestSerializer, responses={201: ExportJobSerializer})
    def create(self, request, *args, **kwargs):
        """Queue a background export to a file (for very large versions); poll the job, then download."""
        wanted = ExportRequestSerializer(data=request.data)
        wanted.is_valid(raise_exception=True)
        data = wanted.validated_data
        try:
            job = start_export(
                data["version"], fmt=data["format"], split=data["split"], metadata=data["metadata"], author=request.user
            )
        except ExportRequestError as error:
            raise ValidationError({error.field: [str(error)]}) from error
        return Response(ExportJobSerializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY)})
    @action(detail=True, methods=["get"], url_name="download", content_negotiation_class=ExportNegotiation)
    def download(self, request, pk=None):
        job = self.get_object()
        if job.status != ExportJob.Status.SUCCEEDED or not job_path(job).is_file():
            raise NotFound(f"Export #{job.pk} has no file yet: it is {job.status}.")
        return FileResponse(
            open(job_path(job), "rb"), as_attachment=True, filename=job_path(job).name.split("-", 1)[1],
            content_type=content_type(job.format),
        )


router.register("sources", SourceViewSet, basename="api-source")
router.register("examples", ExampleViewSet, basename="api-example")
router.register("datasets", DatasetVersionViewSet, basename="api-dataset")
router.register("exports", ExportJobViewSet, basename="api-export-job")
