"""REST API of semantic neighbours, with the examples API's authentication and permissions.

/api/examples/{id}/similar/?k=        the k examples nearest this one in meaning: {"results": [{"id", "score"}]}
/api/semantic-search/?q=&k=           the k examples nearest a query's meaning, the same shape
"""
from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import CuratedAPI
from core.params import is_id
from curation.models import Example
from curation.signals.search import semantic_search, similar_examples

RESULTS = inline_serializer("SemanticResults", {"results": serializers.ListField(child=inline_serializer(
    "SemanticHit", {"id": serializers.IntegerField(), "score": serializers.FloatField()}))})
K = OpenApiParameter("k", int, description="How many (default 10, at most SIGNALS_MAX_K)")


def _k(request):
    raw = request.query_params.get("k", "10")
    if not is_id(raw) or not 0 < int(raw) <= settings.SIGNALS_MAX_K:
        raise ValidationError({"k": f"k must be a whole number from 1 to {settings.SIGNALS_MAX_K}."})
    return int(raw)


def _results(hits):
    return Response({"results": [{"id": pk, "score": score} for pk, score in hits]})


class SimilarExamples(CuratedAPI, APIView):
    queryset = Example.objects.all()  # the examples API's permissions: view_example to read

    @extend_schema(parameters=[K], responses=RESULTS)
    def get(self, request, pk):
        example = get_object_or_404(Example, pk=pk)
        return _results(similar_examples(example, k=_k(request)))


class SemanticSearch(CuratedAPI, APIView):
    queryset = Example.objects.all()

    @extend_schema(parameters=[OpenApiParameter("q", str, required=True, description="What to look for"), K],
                   responses=RESULTS)
    def get(self, request):
        query = request.query_params.get("q", "").strip()
        if not query:
            raise ValidationError({"q": "Say what to look for: q is empty."})
        return _results(semantic_search(query[:2000], k=_k(request)))


urlpatterns = [
    path("examples/<int:pk>/similar/", SimilarExamples.as_view(), name="api-example-similar"),
    path("semantic-search/", SemanticSearch.as_view(), name="api-semantic-search"),
]
