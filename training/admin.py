from django.contrib import admin

from training.models import Checkpoint, TrainingRun


class CheckpointInline(admin.TabularInline):
    model = Checkpoint
    extra = 0
    readonly_fields = ["epoch", "step", "path", "metrics", "created_at"]
    can_delete = False


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "dataset_version", "base_model", "status", "progress", "attempt", "worker_name",
                    "created_by", "created_at"]
    list_filter = ["status", "device"]
    search_fields = ["name", "base_model", "error", "worker_host", "worker_name"]
    raw_id_fields = ["dataset_version", "chosen_checkpoint"]
    readonly_fields = ["created_at", "started_at", "finished_at", "heartbeat_at", "pid", "pgid", "attempt",
                       "metrics", "stats"]
    inlines = [CheckpointInline]


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "epoch", "step", "path", "created_at"]
    list_filter = ["epoch", "run__status"]
    search_fields = ["path", "run__name"]
    raw_id_fields = ["run"]
