"""REST API of examples, registered on `router` (mounted under /api/ by config/api_urls.py).

/api/examples/                        CRUD, turns nested; filters; cursor pagination; 409 on a stale version
/api/examples/{id}/reviews/           list, record a review
/api/examples/{id}/revisions/         the example's history
"""
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from core.api import CuratedAPI
from core.permissions import CanReadRevisions, CanReview, HasRole
from curation import services
from curation.models import Example, Turn
from curation.workspace.search import WITHIN
from curation.workspace.serializers import (
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


router.register("examples", ExampleViewSet, basename="api-example")
