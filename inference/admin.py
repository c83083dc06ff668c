from django.contrib import admin

from inference.judging.models import JudgeCall, JudgeRun, JudgeVerdict
from inference.models import (
    DraftRun,
    Generation,
    GenerationRun,
    Judgment,
    ModelEndpoint,
    ModelServer,
    Rating,
    Study,
    StudyItem,
    StudyRun,
)


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "model", "base_url", "api_key_env", "concurrency")
    list_filter = ("model",)
    search_fields = ("name", "model", "base_url")
    raw_id_fields = ("checkpoint",)


@admin.register(ModelServer)
class ModelServerAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "status", "host", "port", "endpoint", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "host")
    raw_id_fields = ("checkpoint", "endpoint", "created_by")


@admin.register(GenerationRun)
class GenerationRunAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "kind", "status", "dataset_version", "split", "done", "total", "created_at")
    list_filter = ("kind", "status", "split")
    search_fields = ("name",)
    raw_id_fields = ("checkpoint", "dataset_version", "created_by", "endpoint")


@admin.register(DraftRun)
class DraftRunAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "status", "done", "total", "created_by", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "model_path")
    raw_id_fields = ("checkpoint", "created_by")


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "position", "prompt_key", "model_name")
    list_filter = ("run",)
    search_fields = ("prompt_key", "model_name", "response")
    raw_id_fields = ("run", "dataset_item")


class StudyRunInline(admin.TabularInline):
    model = StudyRun
    raw_id_fields = ("run",)
    extra = 0


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "kind", "overlap", "is_open", "created_at")
    list_filter = ("kind", "is_open")
    search_fields = ("name",)
    inlines = [StudyRunInline]


@admin.register(StudyItem)
class StudyItemAdmin(admin.ModelAdmin):
    list_display = ("id", "study", "position", "prompt_key", "left", "right")
    list_filter = ("study",)
    search_fields = ("prompt_key",)
    raw_id_fields = ("left", "right")


@admin.register(Judgment)
class JudgmentAdmin(admin.ModelAdmin):
    list_display = ("id", "item", "annotator", "label", "updated_at")
    list_filter = ("label",)
    search_fields = ("annotator__username", "item__prompt_key")
    raw_id_fields = ("item",)


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("id", "item", "annotator", "label", "updated_at")
    list_filter = ("label",)
    search_fields = ("annotator__username", "item__prompt_key")
    raw_id_fields = ("item",)


@admin.register(JudgeRun)
class JudgeRunAdmin(admin.ModelAdmin):
    list_display = ("id", "study", "status", "judge_name", "judge_model", "items", "flips", "unparseable", "created_at")
    list_filter = ("status", "judge_model")
    search_fields = ("judge_name", "judge_model", "study__name")
    raw_id_fields = ("study", "endpoint", "created_by")


@admin.register(JudgeCall)
class JudgeCallAdmin(admin.ModelAdmin):
    list_display = ("id", "judge_model", "order", "label", "finish_reason", "created_at")
    list_filter = ("order", "label")
    search_fields = ("judge_model", "output")


@admin.register(JudgeVerdict)
class JudgeVerdictAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "item", "label", "flipped")
    list_filter = ("label", "flipped")
    search_fields = ("item__prompt_key",)
    raw_id_fields = ("run", "item", "forward", "backward")
