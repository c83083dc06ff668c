"""API shapes of curation. Writes are handed to curation.services; these classes only validate and present."""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from rest_framework import serializers
from rest_framework.exceptions import APIException

from . import services
from .exports import EXPORT_FORMATS
from .models import DatasetVersion, Example, ExportJob, Review, Revision, Source, Turn


class Conflict(APIException):
    status_code = 409
    default_code = "conflict"
    default_detail = "The object changed since you read it."

    def __init__(self, detail=None):
        # Kept as given: APIException would turn the numbers and the current example into strings.
        self.detail = detail if detail is not None else self.default_detail


def stale_edit_conflict(error):
    """409 with the example as it is now, so the client can merge and retry with the current version."""
    return Conflict(
        {"detail": str(error), "current_version": error.current.version, "current": ExampleSerializer(error.current).data}
    )


def as_drf_error(error: DjangoValidationError):
    return serializers.ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages)


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = ["id", "kind", "name", "licence", "url", "created_at"]
        read_only_fields = fields


class TurnSerializer(serializers.ModelSerializer):
    text = serializers.CharField(trim_whitespace=False)

    class Meta:
        model = Turn
        fields = ["role", "text"]


class ExampleSerializer(serializers.ModelSerializer):
    source = serializers.PrimaryKeyRelatedField(
        queryset=Source.objects.all(), required=False, help_text="Defaults to the hand-written source."
    )
    external_id = serializers.CharField(max_length=200, required=False, help_text="Set on creation only.")
    turns = TurnSerializer(many=True, help_text="Alternating user/assistant, user first.")
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    metadata = serializers.DictField(required=False)
    version = serializers.IntegerField(
        required=False, min_value=1,
        help_text="The version you read. Required on PUT/PATCH: a stale one gets 409 with the current version.",
    )

    class Meta:
        model = Example
        fields = [
            "id", "source", "external_id", "domain", "status", "split", "tags", "metadata", "version",
            "content_hash", "turns", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "content_hash", "created_at", "updated_at"]
        # DRF's unique-together validator would make source and external_id required; both have defaults.
        validators = []

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["turns"] = [{"role": turn.role, "text": turn.text} for turn in instance.turns.all()]
        return data

    def validate(self, attrs):
        if self.instance is not None and "version" not in attrs:
            raise serializers.ValidationError({"version": "Send the version you read, so that no change is lost."})
        if self.instance is None and attrs.get("external_id"):
            source = attrs.get("source") or services.manual_source()
            if Example.objects.filter(source=source, external_id=attrs["external_id"]).exists():
                raise serializers.ValidationError({"external_id": f"Source {source.name!r} already has this id."})
        return attrs

    def create(self, validated):
        validated.pop("version", None)
        try:
            return services.create_example(author=self.context["request"].user, **validated)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error

    def update(self, instance, validated):
        expected = validated.pop("version")
        validated.pop("external_id", None)
        validated.pop("source", None)
        try:
            return services.edit_example(
                instance, expected_version=expected, author=self.context["request"].user, **validated
            )
        except services.StaleEdit as error:
            raise stale_edit_conflict(error) from error
        except DjangoValidationError as error:
            raise as_drf_error(error) from error


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    revision = serializers.IntegerField(source="revision.number", read_only=True, allow_null=True)
    version = serializers.IntegerField(
        write_only=True, required=False, min_value=1, help_text="The example version you reviewed (409 if stale)."
    )
    split = serializers.ChoiceField(choices=Example.Split.choices, write_only=True, required=False)

    class Meta:
        model = Review
        fields = ["id", "example", "revision", "reviewer", "decision", "reason", "comment", "created_at", "version", "split"]
        read_only_fields = ["id", "example", "revision", "reviewer", "created_at"]

    def create(self, validated):
        try:
            return services.review_example(
                self.context["example"], reviewer=self.context["request"].user,
                expected_version=validated.pop("version", None), **validated,
            )
        except services.StaleEdit as error:
            raise stale_edit_conflict(error) from error
        except DjangoValidationError as error:
            raise as_drf_error(error) from error


class RevisionSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Revision
        fields = ["number", "author", "created_at", "note", "turns", "status", "split", "domain", "tags", "content_hash"]
        read_only_fields = fields


class SelectionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Example.Status.choices, default=Example.Status.APPROVED, allow_blank=True,
        help_text="Empty for every status.",
    )
    sources = serializers.ListField(child=serializers.CharField(), default=list, help_text="Kinds or source ids")
    domains = serializers.ListField(child=serializers.CharField(), default=list)
    splits = serializers.ListField(child=serializers.ChoiceField(choices=Example.Split.choices), default=list)
    tags = serializers.ListField(child=serializers.CharField(), default=list, help_text="Any of these tags")


class FreezeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    selection = SelectionSerializer(required=False)


class CheckRequestSerializer(serializers.Serializer):
    selection = SelectionSerializer(required=False)


class DatasetVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = DatasetVersion
        fields = [
            "id", "name", "description", "status", "content_hash", "example_count", "selection", "created_by",
            "created_at",
        ]
        read_only_fields = fields


class DatasetVersionDetailSerializer(DatasetVersionSerializer):
    class Meta(DatasetVersionSerializer.Meta):
        fields = [*DatasetVersionSerializer.Meta.fields, "manifest"]
        read_only_fields = fields


class ContaminationPairSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["exact", "near"])
    eval_example = serializers.IntegerField()
    eval_split = serializers.CharField()
    eval_prompt = serializers.CharField()
    train_example = serializers.IntegerField()
    train_prompt = serializers.CharField()
    shared_ngrams = serializers.IntegerField()
    prompt_ngrams = serializers.IntegerField()
    ratio = serializers.FloatField()
    snippet = serializers.CharField()


class CheckReportSerializer(serializers.Serializer):
    examples = serializers.IntegerField()
    by_split = serializers.DictField(child=serializers.IntegerField())
    can_freeze = serializers.BooleanField()
    duplicates = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    contamination = ContaminationPairSerializer(many=True)
    contamination_count = serializers.IntegerField()


class FrozenSerializer(DatasetVersionDetailSerializer):
    warnings = serializers.SerializerMethodField()

    class Meta(DatasetVersionDetailSerializer.Meta):
        fields = [*DatasetVersionDetailSerializer.Meta.fields, "warnings"]
        read_only_fields = fields

    def get_warnings(self, version) -> list[dict]:
        """The contamination pairs found while freezing (also in manifest.contamination)."""
        return (version.manifest or {}).get("contamination", {}).get("pairs", [])


class ChangedExampleSerializer(serializers.Serializer):
    example = serializers.IntegerField()
    old_revision = serializers.IntegerField()
    new_revision = serializers.IntegerField()
    changed = serializers.ListField(child=serializers.ChoiceField(choices=["turns", "split"]))


class DiffSerializer(serializers.Serializer):
    old = serializers.IntegerField()
    new = serializers.IntegerField()
    added = serializers.ListField(child=serializers.IntegerField(), help_text="Example ids only in new")
    removed = serializers.ListField(child=serializers.IntegerField(), help_text="Example ids only in old")
    changed = ChangedExampleSerializer(many=True)
    unchanged = serializers.IntegerField()


class ExportRequestSerializer(serializers.Serializer):
    version = serializers.PrimaryKeyRelatedField(queryset=DatasetVersion.objects.all())
    format = serializers.ChoiceField(choices=EXPORT_FORMATS)
    split = serializers.ChoiceField(choices=Example.Split.choices, required=False, allow_blank=True, default="")
    metadata = serializers.BooleanField(default=True)


class ExportJobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id", "version", "format", "split", "metadata", "status", "progress", "rows_written", "total_rows",
            "size_bytes", "error", "created_at", "started_at", "finished_at", "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, job) -> str | None:
        if job.status != ExportJob.Status.SUCCEEDED:
            return None
        return reverse("api-export-job-download", args=[job.pk])
