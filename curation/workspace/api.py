"""REST API of examples, registered on `router` (mounted under /api/ by config/api_urls.py).

/api/examples/                        CRUD, turns nested; filters; cursor pagination; 409 on a stale version
/api/examples/{id}/reviews/           list, record a review
/api/examples/{id}/revisions/         the example's history
/api/examples/bulk/                   POST one action on many examples (ids with versions, or a filter); list
/api/examples/bulk/{id}/              what a bulk action did and skipped, its progress while a worker runs it
"""
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Prefetch
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from core.api import CuratedAPI, JobActions
from core.permissions import CanReadRevisions, CanReview, HasRole
from curation import services
from curation.models import BulkActionJob, Example, Turn
from curation.workspace.bulk import BulkError, Selection, start_bulk_action
from curation.workspace.search import WITHIN
from curation.workspace.serializers import (
    BulkActionJobSerializer,
    BulkRequestSerializer,
    ExampleSerializer,
    ReviewSerializer,
    RevisionSerializer,
)
from curation.workspace.table import FLAGS, REVIEWED, FilterError, TableFilters

router = SimpleRouter()


class ExampleCursor(CursorPagination):
    ordering = "-id"  # newest first; stable under inserts, unlike page numbers
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


EXAMPLE_FILTERS = [
    OpenApiParameter("status", str, enum=Example.Status.values),
    OpenApiParameter("source", str, description="A source id or kind (stackexchange, wikihow, …)"),
    OpenApiParameter("domain", str),
    OpenApiParameter("split", str, enum=Example.Split.values),
    OpenApiParameter("tag", str, description="Examples carrying this tag"),
    OpenApiParameter("import_run", int, description="Examples created by this import run"),
    OpenApiParameter("flag", str, enum=list(FLAGS), description="multi-turn, prompt only, text edited since created"),
    OpenApiParameter("reviewed", str, enum=list(REVIEWED), description="yes: reviewed at least once; no: never"),
    OpenApiParameter("search", str, description=(
        'Full-text search of prompts and responses: words (stemmed), "a phrase", a OR b, -excluded, prefix*. '
        "`q` is the same parameter")),
    OpenApiParameter("within", str, enum=list(WITHIN), description="Search the prompts or the responses only"),
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
        try:
            # The examples table's filters (curation.workspace.table), registered ones included: one meaning
            # of a filter for the page, the API and bulk actions.
            filters = TableFilters.from_query(self.request.query_params, strict=True)
        except FilterError as error:
            raise ValidationError(error.errors) from None
        return filters.apply(examples)

    def perform_destroy(self, example):
        services.delete_example(example)  # a lost race is ExampleGone (404) or ExampleProtected (409)

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


class BulkActionViewSet(CuratedAPI, JobActions, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Bulk actions on examples (curation.workspace.bulk): the same verbs, revisions and reviews as one at a time,
    stale and held examples skipped with the reason."""

    queryset = BulkActionJob.objects.select_related("created_by")
    lookup_value_regex = "[0-9]+"
    serializer_class = BulkActionJobSerializer

    def get_permissions(self):
        if self.action == "create":
            return [HasRole()]  # what the action needs (add_review, change_example…) is asked by the service
        return super().get_permissions()

    @extend_schema(
        request=BulkRequestSerializer,
        responses={201: BulkActionJobSerializer, 202: BulkActionJobSerializer},
        description="Runs in the request up to BULK_JOB_MIN_EXAMPLES examples (201: the job, finished, with what "
                    "it changed and skipped); larger selections are queued for a worker (202: poll the job's url).",
    )
    def create(self, request, *args, **kwargs):
        wanted = BulkRequestSerializer(data=request.data)
        wanted.is_valid(raise_exception=True)
        data = wanted.validated_data
        if ("items" in data) == ("filter" in data):
            raise ValidationError({"items": ["Send either items (ids with versions) or a filter."]})
        if "items" in data:
            selection = {"items": [{"id": item["id"], "version": item["version"]} for item in data["items"]]}
        else:
            selection = {"filters": data["filter"], "as_of": data.get("as_of")}
        params = {name: data[name] for name in ("reason", "comment", "split", "tag") if name in data}
        try:
            job = start_bulk_action(request.user, data["action"], params=params,
                                    selection=Selection.from_dict(selection))
        except BulkError as error:
            raise ValidationError({error.field: [str(error)]}) from None
        except DjangoPermissionDenied as denied:
            raise PermissionDenied(str(denied)) from None
        body = BulkActionJobSerializer(job).data
        location = reverse("api-example-bulk-detail", args=[job.pk])
        return Response(body, status=status.HTTP_202_ACCEPTED if job.is_active else status.HTTP_201_CREATED,
                        headers={"Location": location})


# Before "examples": its routes are examples/bulk/…, which the examples' own [0-9]+ ids never take.
router.register("examples/bulk", BulkActionViewSet, basename="api-example-bulk")
router.register("examples", ExampleViewSet, basename="api-example")
