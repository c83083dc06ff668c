"""API shapes of examples, reviews and revisions. Writes are handed to curation.services; these classes only
validate and present."""
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core.api import JOB_FIELDS, Conflict, as_drf_error
from core.labels import REVIEW_REASONS, describe
from curation import services
from curation.imports.clean_text import first_bad_character
from curation.models import BulkActionJob, Example, Review, Revision, Source, Turn

REVIEW_REASON_HELP = describe(REVIEW_REASONS) + "."


def stale_edit_conflict(error):
    """409 with the example as it is now, so the client can merge and retry with the current version."""
    return Conflict(
        {"detail": str(error), "current_version": error.current.version, "current": ExampleSerializer(error.current).data}
    )


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
        # PostgreSQL refuses NUL and lone surrogates in JSON: a 400 naming the place, never its 500 (the text
        # fields' own validators refuse them there).
        bad = first_bad_character(attrs.get("metadata"), "metadata")
        if bad:
            raise serializers.ValidationError({"metadata": bad})
        if self.instance is not None and "version" not in attrs:
            raise serializers.ValidationError({"version": "Send the version you read, so that no change is lost."})
        return attrs

    def create(self, validated):
        # A taken external id is services.DuplicateExample: 409, the same whether it was taken long ago or by a
        # request a millisecond earlier (the API's exception handler answers it).
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
        extra_kwargs = {"reason": {"help_text": "Why the example was rejected (decision reject); usually one of " + REVIEW_REASON_HELP}}

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


# --- Bulk actions (curation.workspace.bulk) ------------------------------------------------------------------

class BulkItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(min_value=1)
    version = serializers.IntegerField(min_value=1, help_text="The version you saw: a newer example is skipped (stale)")


class BulkRequestSerializer(serializers.Serializer):
    """One action on the examples named (with the version each showed) or on every one matching `filter`."""

    action = serializers.CharField(help_text="approve, reject, split, tag, untag, queue, delete, style, or one another "
                                             "module registered")
    items = BulkItemSerializer(many=True, required=False)
    filter = serializers.DictField(
        required=False, help_text='The table\'s filters, as /api/examples/ takes them: {"status": "candidate", '
                                  '"search": "boil egg", …}: every example matching them')
    as_of = serializers.DateTimeField(
        required=False, help_text="With `filter`: when you looked; examples changed or added since are skipped "
                                  "(default: now)")
    reason = serializers.CharField(required=False, allow_blank=True,
                                   help_text="reject: why (required), usually one of " + REVIEW_REASON_HELP)
    comment = serializers.CharField(required=False, allow_blank=True)
    split = serializers.ChoiceField(choices=Example.Split.choices, required=False, help_text="split: the split")
    tag = serializers.CharField(required=False, allow_blank=True,
                                help_text="tag, untag: the tag; queue: the tag to add (default `review`)")


class BulkActionJobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    skipped = serializers.SerializerMethodField(
        help_text="{reason: {count, ids (the first 100), label}}: stale, new, gone, held, unchanged, protected")

    class Meta:
        model = BulkActionJob
        fields = ["id", "action", "params", "selection", "changed", "skipped", "created_by", *JOB_FIELDS]
        read_only_fields = fields

    def get_skipped(self, job) -> dict:
        from curation.workspace.bulk import get_action, skip_label

        action = get_action(job.action)
        return {reason: {**entry, "label": skip_label(action, reason) if action else reason}
                for reason, entry in (job.skipped or {}).items()}
