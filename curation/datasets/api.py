"""REST API of dataset versions and exports, registered on `router` (mounted under /api/ by config/api_urls.py).

/api/datasets/                        list; POST freezes a version (admins)
/api/datasets/check/                  POST: what freezing a selection would meet (admins)
/api/datasets/{id}/                   detail with manifest
/api/datasets/{id}/export/            ?format=&split=&metadata= streamed
/api/datasets/{a}/diff/{b}/           added, removed, changed examples
/api/freeze-jobs/                     big selections frozen in the background; {id}/cancel/
/api/exports/                         background exports (admins start them); {id}/download/, {id}/cancel/
"""
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from core.api import CuratedAPI, JobActions
from curation.datasets import versions as datasets
from curation.datasets.export_jobs import ExportRequestError, check_export_request, job_path, start_export
from curation.datasets.exports import SPLITS, content_type, file_name, iter_export_chunks
from curation.datasets.formats import EXPORT_FORMATS, all_formats
from curation.datasets.freeze_jobs import needs_a_job, start_freeze_job
from curation.datasets.serializers import (
    CheckReportSerializer,
    CheckRequestSerializer,
    DatasetVersionDetailSerializer,
    DatasetVersionSerializer,
    DiffSerializer,
    ExportJobSerializer,
    ExportRequestSerializer,
    FreezeJobSerializer,
    FreezeSerializer,
    FrozenSerializer,
)
from curation.models import DatasetVersion, ExportJob, FreezeJob

router = SimpleRouter()


class ExportNegotiation(BaseContentNegotiation):
    """An export picks its own content type from ?format= (not a renderer name here), whatever Accept says;
    errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def format_responses():
    """The export's 200 answers, one per content type of the registered formats, naming the formats."""
    by_type = {}
    for fmt in all_formats():
        by_type.setdefault(fmt.content_type.split(";")[0], []).append(fmt.name)
    return {(200, kind): OpenApiResponse(OpenApiTypes.BINARY, description=", ".join(names))
            for kind, names in by_type.items()}


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


@extend_schema_view(create=extend_schema(
    request=FreezeSerializer, responses={201: FrozenSerializer, 202: FreezeJobSerializer},
    description="Freezes the selection: at once (201, the version), or, above FREEZE_JOB_MIN_EXAMPLES examples, "
                "as a background job (202, the job: poll /api/freeze-jobs/{id}/ until it names its version).",
))
class DatasetVersionViewSet(CuratedAPI, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = DatasetVersion.objects.select_related("created_by")
    lookup_value_regex = "[0-9]+"

    def get_serializer_class(self):
        return DatasetVersionSerializer if self.action == "list" else DatasetVersionDetailSerializer

    def create(self, request, *args, **kwargs):
        freeze = FreezeSerializer(data=request.data)
        freeze.is_valid(raise_exception=True)
        data = freeze.validated_data
        try:
            selection = datasets.Selection.from_dict(data.get("selection"))
            if needs_a_job(selection):
                job = start_freeze_job(data["name"], selection=selection, author=request.user,
                                       description=data["description"])
                return Response(FreezeJobSerializer(job).data, status=status.HTTP_202_ACCEPTED,
                                headers={"Location": reverse("api-freeze-job-detail", args=[job.pk])})
            frozen = datasets.freeze_version(
                data["name"], selection=selection, author=request.user, description=data["description"],
            )
        except datasets.DuplicateTrainExamples as error:
            raise ValidationError({"selection": [str(error)], "duplicates": error.groups}) from error
        except datasets.NearDuplicateExamples as error:
            raise ValidationError({"selection": [str(error)], "near_duplicates": error.pairs}) from error
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
            # The live list of registered formats (the schema is built per request: plug-ins included).
            OpenApiParameter("format", str, enum=EXPORT_FORMATS, required=True),
            OpenApiParameter("split", str, enum=list(SPLITS)),
            OpenApiParameter("metadata", bool, description="id, split and attribution on every line (default true)"),
        ],
        responses=format_responses(),
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


class FreezeJobViewSet(CuratedAPI, JobActions, viewsets.ReadOnlyModelViewSet):
    """Freezes of big selections running in the background; `version` is set once it is ready."""

    queryset = FreezeJob.objects.select_related("version")
    lookup_value_regex = "[0-9]+"
    serializer_class = FreezeJobSerializer


class ExportJobViewSet(CuratedAPI, JobActions, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
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


router.register("datasets", DatasetVersionViewSet, basename="api-dataset")
router.register("freeze-jobs", FreezeJobViewSet, basename="api-freeze-job")
router.register("exports", ExportJobViewSet, basename="api-export-job")
