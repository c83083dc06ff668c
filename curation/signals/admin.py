"""The admin's lists of embeddings, scores and signal runs (imported by curation/admin.py)."""
from django.contrib import admin

from curation.signals.models import Embedding, Score, SignalRun, SignalShard


@admin.register(Embedding)
class EmbeddingAdmin(admin.ModelAdmin):
    list_display = ["id", "example", "model_name", "dim", "content_hash", "updated_at"]
    list_filter = ["model_name"]
    search_fields = ["example__id", "content_hash", "model_name"]
    raw_id_fields = ["example"]
    exclude = ["vector"]


@admin.register(Score)
class ScoreAdmin(admin.ModelAdmin):
    list_display = ["id", "example", "signal", "value", "content_hash", "computed_by", "updated_at"]
    list_filter = ["signal"]
    search_fields = ["example__id", "content_hash", "computed_by"]
    raw_id_fields = ["example"]


@admin.register(SignalRun)
class SignalRunAdmin(admin.ModelAdmin):
    list_display = ["id", "signal", "status", "done", "total", "shard_count", "created_by", "created_at"]
    list_filter = ["signal", "status"]
    search_fields = ["signal", "model_name", "error"]
    readonly_fields = ["created_at", "started_at", "finished_at", "heartbeat_at"]


@admin.register(SignalShard)
class SignalShardAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "number", "status", "done", "total", "worker_name", "created_at"]
    list_filter = ["status", "run__signal"]
    search_fields = ["worker_name", "worker_host", "error"]
    readonly_fields = ["created_at", "started_at", "finished_at", "heartbeat_at"]
    raw_id_fields = ["run"]
