"""REST API of sources and imports (/api/sources/, /api/imports/, /api/imports/{id}/cancel/), registered on
`router`.

GET lists and shows runs (anyone who may view imports); POST starts one (admins): a multipart upload
(`file`) or a `path` on the server, with `kind`, optional `name`, `seed`, `target`, `tau` and parser
`options`. The run goes to the Celery worker on the `default` queue; poll its detail for progress.
"""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from core.api import JOB_FIELDS, CuratedAPI, JobActions
from core.labels import import_reasons_help, label
from core.people.tokens import ApiTokenAuthentication
from curation.imports.ingest import AlreadyImported, ImportOptionError, rescue_record, save_upload, start_import
from curation.imports.paths import PathRefused, confine
from curation.imports.uploads import refusal
from curation.models import ImportRun, RejectedRecord, Source
from curation.sources.plugins import importable_kinds

router = SimpleRouter()
REASON_HELP = import_reasons_help()


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = ["id", "kind", "name", "licence", "url", "created_at"]
        read_only_fields = fields


class SourceViewSet(CuratedAPI, viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = "[0-9]+"
    queryset = Source.objects.all()
    serializer_class = SourceSerializer




class CanViewImports(BasePermission):
    """Reading runs needs curation.view_importrun; starting one, curation.add_importrun (admins)."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if view.action == "create":
            return user.has_perm("curation.add_importrun")
        if view.action == "rescue":
            return user.has_perm("curation.add_example") and user.has_perm("curation.view_importrun")
        return user.has_perm("curation.view_importrun")


class ImportRunSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="source.kind", read_only=True)
    source = serializers.CharField(source="source.name", read_only=True)
    source_id = serializers.IntegerField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = ImportRun
        fields = [
            "id", "kind", "source", "source_id", "file", "file_sha256", "options", *JOB_FIELDS,
            "read_count", "accepted_count", "created_count", "updated_count", "unchanged_count",
            "protected_count", "rejected_count", "rejected_by_reason", "warnings", "parser_stats", "created_by",
        ]
        read_only_fields = fields
        extra_kwargs = {"rejected_by_reason": {"help_text": "{reason: records}, every rejection counted. " + REASON_HELP}}


class ImportRunCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=importable_kinds())
    file = serializers.FileField(required=False, help_text="The file to import (multipart upload)")
    path = serializers.CharField(required=False, help_text="Or a file or folder on the server")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    seed = serializers.IntegerField(required=False, default=0)
    target = serializers.CharField(required=False, help_text='Per group, or "all"')
    tau = serializers.FloatField(required=False, min_value=0.0001)
    options = serializers.JSONField(required=False, default=dict, help_text="Parser options, e.g. subreddits")

    def validate_target(self, value):
        if value == "all":
            return value
        try:
            number = int(value)
        except ValueError:
            raise serializers.ValidationError('A whole number or "all".') from None
        if number < 0:
            raise serializers.ValidationError("Not negative.")
        return number

    def validate_options(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("An object of parser options.")
        return value

    def validate(self, data):
        if bool(data.get("file")) == bool(data.get("path")):
            raise serializers.ValidationError("Give either a file upload or a server path.")
        return data


class RejectedRecordSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(read_only=True, help_text=REASON_HELP)
    reason_label = serializers.SerializerMethodField(help_text="The reason in words (core.labels).")

    class Meta:
        model = RejectedRecord
        fields = ["id", "external_id", "reason", "reason_label", "turns", "domain", "split", "metadata", "location",
                  "rescued_as"]
        read_only_fields = fields

    def get_reason_label(self, record) -> str:
        return label(record.reason)


class RescueSerializer(serializers.Serializer):
    rejected_record = serializers.IntegerField()


class ImportRunViewSet(JobActions, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       viewsets.GenericViewSet):
    # Token first, so an anonymous call is told 401 with a WWW-Authenticate header rather than 403.
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [CanViewImports]
    queryset = ImportRun.objects.select_related("source", "created_by")

    def get_serializer_class(self):
        if self.action == "create":
            return ImportRunCreateSerializer
        if self.action == "rescue":
            return RescueSerializer
        return ImportRunSerializer

    def create(self, request, *args, **kwargs):
        form = self.get_serializer(data=request.data)
        if refusal(request):
            return Response({"file": refusal(request)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        options = dict(data.get("options") or {}, seed=data["seed"])
        for key in ("target", "tau"):
            if key in data:
                options[key] = data[key]
        try:
            path = save_upload(data["file"]) if data.get("file") else confine(data["path"])
        except PathRefused as exc:
            raise serializers.ValidationError({"path": str(exc)}) from None
        try:
            run = start_import(data["kind"], path, name=data.get("name") or None, options=options, user=request.user)
        except AlreadyImported as done:  # nothing new: the earlier run answers, with why
            return Response({**ImportRunSerializer(done.run).data, "detail": str(done), "already_imported": True},
                            status=status.HTTP_200_OK)
        except ImportOptionError as exc:
            raise serializers.ValidationError({exc.field or "detail": str(exc)}) from exc
        return Response(ImportRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=RejectedRecordSerializer(many=True),
                   parameters=[OpenApiParameter("reason", str, description="Only this reason. " + REASON_HELP)])
    @action(detail=True, methods=["get"])
    def rejected(self, request, pk=None):
        """The run's rejected records, `?reason=` to keep one reason."""
        run = self.get_object()
        records = run.rejected_records.all()
        if request.query_params.get("reason"):
            records = records.filter(reason=request.query_params["reason"])
        page = self.paginate_queryset(records)
        return self.get_paginated_response(RejectedRecordSerializer(page, many=True).data)

    @action(detail=True, methods=["post"])
    def rescue(self, request, pk=None):
        """Make a rejected record of this run a candidate example; answers the example's id."""
        run = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        record = get_object_or_404(RejectedRecord, pk=form.validated_data["rejected_record"], import_run=run)
        try:
            example = rescue_record(record, request.user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"detail": exc.messages}) from exc
        return Response({"example": example.pk, "rejected_record": record.pk}, status=status.HTTP_201_CREATED)


router.register("sources", SourceViewSet, basename="api-source")
router.register("imports", ImportRunViewSet, basename="api-import")
