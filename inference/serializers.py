"""API shapes of inference. Writes are handed to inference.services / inference.studies; these only validate
and present."""
import uuid

from rest_framework import serializers

from core.api import JOB_FIELDS
from curation.models import DatasetVersion
from inference import protocols, services
from inference.engine.jsonl import write_jsonl_atomically
from inference.models import Generation, GenerationRun, ModelEndpoint, Study
from training.models import Checkpoint


class DecodingSerializer(serializers.Serializer):
    """LIMA's decoding (LIMA.md, Decoding) unless changed."""

    temperature = serializers.FloatField(required=False, help_text="LIMA: 0.7")
    top_p = serializers.FloatField(required=False, help_text="LIMA: 0.9")
    repetition_penalty = serializers.FloatField(required=False, help_text="LIMA: 1.2")
    max_new_tokens = serializers.IntegerField(required=False, help_text="LIMA: 2048")
    do_sample = serializers.BooleanField(required=False, help_text="False: greedy")


class PromptSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=200)
    conversations = serializers.ListField(child=serializers.CharField(trim_whitespace=False), min_length=1)


class GenerationRunSerializer(serializers.ModelSerializer):
    checkpoint = serializers.PrimaryKeyRelatedField(queryset=Checkpoint.objects.all(), required=False, allow_null=True)
    dataset_version = serializers.PrimaryKeyRelatedField(
        queryset=DatasetVersion.objects.filter(status=DatasetVersion.Status.READY), required=False, allow_null=True,
    )
    endpoint = serializers.PrimaryKeyRelatedField(queryset=ModelEndpoint.objects.all(), required=False, allow_null=True,
                                                  help_text="A model endpoint asked instead of a checkpoint")
    decoding = DecodingSerializer(required=False)
    prompts = PromptSerializer(many=True, required=False, write_only=True,
                               help_text="Instead of a dataset version: the prompts themselves")
    training_run = serializers.SerializerMethodField()
    progress = serializers.FloatField(read_only=True)

    class Meta:
        model = GenerationRun
        fields = [
            "id", "name", "kind", "checkpoint", "training_run", "model_path", "endpoint", "endpoint_model",
            "dataset_version", "split", "prompts", "decoding", "seed", "batch_size", "prompt_tokens",
            "completion_tokens", *JOB_FIELDS,
        ]
        read_only_fields = ["kind", "endpoint_model", "prompt_tokens", "completion_tokens", *JOB_FIELDS]
        extra_kwargs = {"name": {"required": False}, "model_path": {"required": False},
                        "split": {"required": False}}

    def to_representation(self, run):
        data = super().to_representation(run)
        data["decoding"] = run.decoding  # everything the engine received, as stored
        return data

    def get_training_run(self, run) -> int | None:
        return run.checkpoint.run_id if run.checkpoint_id else None

    def create(self, data):
        prompts_file = ""
        if data.get("prompts"):
            path = services.media_folder("uploads") / f"api-{uuid.uuid4().hex[:12]}.jsonl"
            write_jsonl_atomically(path, ({"id": p["id"], "conversations": p["conversations"]} for p in data["prompts"]))
            prompts_file = str(path)
        try:
            return services.create_generation_run(
                name=data.get("name", ""), checkpoint=data.get("checkpoint"), model_path=data.get("model_path", ""),
                endpoint=data.get("endpoint"),
                dataset_version=data.get("dataset_version"), split=data.get("split", ""), prompts_file=prompts_file,
                decoding=services.decoding_settings(data.get("decoding")), seed=data.get("seed", 0),
                batch_size=data.get("batch_size", 16), user=self.context["request"].user,
            )
        except services.GenerationError as error:
            raise serializers.ValidationError({"detail": str(error)}) from None


class ImportResponsesSerializer(serializers.Serializer):
    responses = serializers.FileField(help_text='JSONL: {"id": prompt id, "response": "…", "model": "…"} a line')
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    dataset_version = serializers.PrimaryKeyRelatedField(
        queryset=DatasetVersion.objects.filter(status=DatasetVersion.Status.READY), required=False, allow_null=True,
    )
    split = serializers.ChoiceField(choices=list(services.PROMPT_SPLITS), required=False, allow_blank=True)


class GenerationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Generation
        fields = ["id", "position", "prompt_key", "prompt", "response", "model_name", "dataset_item", "finish_reason",
                  "prompt_tokens", "completion_tokens"]
        read_only_fields = fields


class StudySerializer(serializers.ModelSerializer):
    runs = serializers.PrimaryKeyRelatedField(
        queryset=GenerationRun.objects.all(), many=True,
        help_text="In order: a pairwise study reports win/tie/loss from the first run's side",
    )

    class Meta:
        model = Study
        fields = ["id", "name", "instructions", "kind", "runs", "pairing", "pairs_per_prompt", "overlap", "sample_size", "seed", "is_open",
                  "created_at"]
        read_only_fields = ["is_open", "created_at"]

    def to_representation(self, study):
        data = super().to_representation(study)
        data["runs"] = list(study.study_runs.order_by("position").values_list("run_id", flat=True))
        data["items"] = study.items.count()
        return data

    def create(self, data):
        from inference.studies import StudyError, create_study

        try:
            return create_study(
                name=data["name"], runs=data["runs"], kind=data.get("kind", protocols.DEFAULT),
                pairing=data.get("pairing", Study.Pairing.FIRST), overlap=data.get("overlap", 1),
                pairs_per_prompt=data.get("pairs_per_prompt", 1),
                sample_size=data.get("sample_size"), seed=data.get("seed", 0),
                instructions=data.get("instructions", ""), user=self.context["request"].user,
            )
        except StudyError as error:
            raise serializers.ValidationError({"detail": str(error)}) from None


class BlindItemSerializer(serializers.Serializer):
    """An item as an annotator sees it: no model, run or generation id."""

    position = serializers.IntegerField()
    prompt = serializers.ListField(child=serializers.CharField())
    responses = serializers.ListField(child=serializers.CharField(),
                                      help_text="As the protocol shows them: [A, B] (pairwise) or [response]")
    labels = serializers.ListField(child=serializers.CharField())


class LabelSerializer(serializers.Serializer):
    position = serializers.IntegerField(min_value=1)
    label = serializers.CharField(max_length=16, help_text="One of the study's labels (its next item lists them)")
