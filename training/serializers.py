"""How training runs and checkpoints travel through the API."""
from rest_framework import serializers

from curation.models import DatasetVersion
from training.models import Checkpoint, TrainingRun


class CheckpointSerializer(serializers.ModelSerializer):
    chosen = serializers.SerializerMethodField()
    in_window = serializers.BooleanField(read_only=True, help_text="Among epochs 5 to 10, where LIMA chose its checkpoint")

    class Meta:
        model = Checkpoint
        fields = ["id", "run", "epoch", "step", "path", "bytes", "dtype", "metrics", "chosen", "in_window", "created_at"]
        read_only_fields = fields

    def get_chosen(self, checkpoint) -> bool:
        return checkpoint.run.chosen_checkpoint_id == checkpoint.pk


class TrainingRunSerializer(serializers.ModelSerializer):
    dataset_version_name = serializers.CharField(source="dataset_version.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    checkpoints = CheckpointSerializer(many=True, read_only=True)
    progress = serializers.FloatField(read_only=True)
    step = serializers.IntegerField(read_only=True, help_text="Optimizer steps done (= done)")
    total_steps = serializers.IntegerField(read_only=True, help_text="Optimizer steps in all (= total)")
    loss = serializers.ListField(source="epoch_losses", child=serializers.FloatField(allow_null=True), read_only=True,
                                 help_text="Mean loss of each finished epoch")

    class Meta:
        model = TrainingRun
        fields = [
            "id", "name", "dataset_version", "dataset_version_name", "base_model", "overrides", "recipe", "status",
            "status_label", "phase", "phase_label", "done", "total", "progress", "step", "total_steps", "epoch", "epochs", "loss", "metrics", "stats", "log_tail",
            "data_report", "resume_point",
            "train_examples", "output_dir", "data_file", "checkpoints", "chosen_checkpoint", "worker_host",
            "worker_name", "device", "world_size", "pid", "pgid", "attempt", "resumed_from", "cancel_requested",
            "error", "created_by", "created_at", "started_at", "finished_at", "duration_text", "eta_text", "heartbeat_at",
        ]
        read_only_fields = fields


class TrainingRunListSerializer(TrainingRunSerializer):
    """A run without its per-step series and log, for lists."""

    class Meta(TrainingRunSerializer.Meta):
        fields = [f for f in TrainingRunSerializer.Meta.fields if f not in ("metrics", "log_tail")]
        read_only_fields = fields


class TrainingRunCreateSerializer(serializers.Serializer):
    dataset_version = serializers.PrimaryKeyRelatedField(
        queryset=DatasetVersion.objects.all(), help_text="Id of a ready (frozen) dataset version",
    )
    base_model = serializers.CharField(max_length=500, help_text="A local model folder or a Hugging Face id")
    recipe = serializers.JSONField(
        required=False, default=dict,
        help_text='Overrides of LIMA\'s recipe by name, e.g. {"epochs": 2, "batch_size": 4} (see --show-recipe)',
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    def validate_recipe(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("An object of recipe overrides by name.")
        return value


class ChooseCheckpointSerializer(serializers.Serializer):
    checkpoint = serializers.IntegerField(help_text="Id of one of the run's checkpoints")
