"""API shapes of dataset versions, checks, diffs and export jobs."""
from django.urls import reverse
from rest_framework import serializers

from core.api import JOB_FIELDS
from curation.datasets.formats import EXPORT_FORMATS
from curation.models import DatasetVersion, Example, ExportJob, FreezeJob


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


class NearDuplicatePairSerializer(serializers.Serializer):
    a = serializers.IntegerField()
    a_split = serializers.CharField()
    b = serializers.IntegerField()
    b_split = serializers.CharField()
    kind = serializers.CharField(help_text="prompt or response")
    similarity = serializers.FloatField(help_text="Estimated Jaccard similarity (MinHash)")
    resolve = serializers.CharField(help_text="The page that keeps one of the two")


class CheckReportSerializer(serializers.Serializer):
    examples = serializers.IntegerField()
    by_split = serializers.DictField(child=serializers.IntegerField())
    can_freeze = serializers.BooleanField()
    duplicates = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    near_duplicates = NearDuplicatePairSerializer(many=True)
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
    format = serializers.ChoiceField(choices=[])
    split = serializers.ChoiceField(choices=Example.Split.choices, required=False, allow_blank=True, default="")
    metadata = serializers.BooleanField(default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["format"].choices = list(EXPORT_FORMATS)  # the registry as it is now, plug-ins included


class ExportJobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = ["id", "version", "format", "split", "metadata", *JOB_FIELDS, "size_bytes", "download_url"]
        read_only_fields = fields

    def get_download_url(self, job) -> str | None:
        if job.status != ExportJob.Status.SUCCEEDED:
            return None
        return reverse("api-export-job-download", args=[job.pk])


class FreezeJobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)

    class Meta:
        model = FreezeJob
        fields = ["id", "name", "description", "selection", "version", *JOB_FIELDS]
        read_only_fields = fields
