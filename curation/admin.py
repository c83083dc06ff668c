from django.contrib import admin

from curation.models import (
    BulkActionJob,
    CompositionTarget,
    DatasetItem,
    DatasetVersion,
    DedupeRun,
    DuplicateCluster,
    DuplicateMember,
    Example,
    ExampleSignature,
    ExampleSummary,
    ExportJob,
    FreezeJob,
    ImportRun,
    Proposal,
    RejectedRecord,
    Review,
    Revision,
    Source,
    StyleCheck,
    Turn,
)


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "licence", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "url"]


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "status", "read_count", "accepted_count", "rejected_count", "created_by", "created_at"]
    list_filter = ["status", "source__kind"]
    search_fields = ["file", "source__name", "error"]
    readonly_fields = ["created_at", "started_at", "finished_at", "heartbeat_at"]


class TurnInline(admin.TabularInline):
    model = Turn
    extra = 0


class ReviewInline(admin.TabularInline):
    model = Review
    extra = 0
    readonly_fields = ["reviewer", "decision", "reason", "comment", "created_at"]


@admin.register(Example)
class ExampleAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "external_id", "domain", "status", "split", "version", "updated_at"]
    list_filter = ["status", "split", "source__kind", "source"]
    search_fields = ["external_id", "domain", "turns__text"]
    readonly_fields = ["version", "content_hash", "created_at", "updated_at"]
    inlines = [TurnInline, ReviewInline]


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    list_display = ["example", "number", "author", "note", "status", "split", "created_at"]
    list_filter = ["status", "split"]
    search_fields = ["example__external_id", "note"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["example", "reviewer", "decision", "reason", "created_at"]
    list_filter = ["decision", "reason"]
    search_fields = ["example__external_id", "comment", "reviewer__username"]


@admin.register(RejectedRecord)
class RejectedRecordAdmin(admin.ModelAdmin):
    list_display = ["external_id", "import_run", "reason", "domain", "rescued_as"]
    list_filter = ["reason", "import_run__source__kind"]
    search_fields = ["external_id", "domain"]


class DatasetItemInline(admin.TabularInline):
    model = DatasetItem
    extra = 0
    raw_id_fields = ["example", "revision"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "example_count", "content_hash", "created_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "content_hash"]
    inlines = [DatasetItemInline]


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "version", "format", "split", "status", "done", "total", "created_by", "created_at"]
    list_filter = ["status", "format"]
    search_fields = ["version__name", "file", "error"]


@admin.register(FreezeJob)
class FreezeJobAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "status", "done", "total", "version", "created_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "error"]
    readonly_fields = ["created_at", "started_at", "finished_at", "heartbeat_at"]


@admin.register(CompositionTarget)
class CompositionTargetAdmin(admin.ModelAdmin):
    list_display = ["split", "bucket", "target", "updated_by", "updated_at"]
    list_filter = ["split"]
    search_fields = ["bucket"]


# --- The examples table (curation/workspace): derived rows, kept by the services and the style check --------

@admin.register(ExampleSummary)
class ExampleSummaryAdmin(admin.ModelAdmin):
    list_display = ["example", "first_line", "turn_count", "prompt_chars", "response_chars"]
    list_filter = ["turn_count"]
    search_fields = ["first_line", "content_hash"]
    readonly_fields = ["example", "content_hash", "first_line", "prompt_chars", "prompt_tokens", "response_chars",
                       "response_tokens", "turn_count"]


@admin.register(StyleCheck)
class StyleCheckAdmin(admin.ModelAdmin):
    list_display = ["example", "warnings", "codes", "checked_at"]
    list_filter = ["warnings"]
    search_fields = ["content_hash"]


@admin.register(BulkActionJob)
class BulkActionJobAdmin(admin.ModelAdmin):
    list_display = ["id", "action", "status", "total", "done", "changed", "created_by", "created_at"]
    list_filter = ["status", "action"]
    search_fields = ["action", "error", "created_by__username"]
    readonly_fields = ["created_at", "started_at", "finished_at", "heartbeat_at"]


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "size", "status", "tag", "created_by", "created_at")
    list_filter = ("status", "targets_from")
    search_fields = ("name", "tag")
    raw_id_fields = ("created_by",)


# --- Duplicates (curation/dedupe): signatures, the last pass's clusters, the passes -----------------------------

@admin.register(ExampleSignature)
class ExampleSignatureAdmin(admin.ModelAdmin):
    list_display = ["example", "content_hash", "prompt_key", "response_key", "updated_at"]
    list_filter = ["updated_at"]
    search_fields = ["prompt_key", "response_key", "content_hash"]
    readonly_fields = ["example", "content_hash", "prompt_key", "response_key", "prompt_minhash", "response_minhash"]


class DuplicateMemberInline(admin.TabularInline):
    model = DuplicateMember
    extra = 0
    readonly_fields = ["example"]


@admin.register(DuplicateCluster)
class DuplicateClusterAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "size", "similarity", "created_at"]
    list_filter = ["kind"]
    search_fields = ["members__example__id"]
    inlines = [DuplicateMemberInline]


@admin.register(DedupeRun)
class DedupeRunAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "reason", "signed", "clusters", "clustered", "created_at"]
    list_filter = ["status"]
    search_fields = ["reason", "error"]
    readonly_fields = ["created_at", "started_at", "finished_at", "heartbeat_at"]


@admin.register(DuplicateMember)
class DuplicateMemberAdmin(admin.ModelAdmin):
    list_display = ["example", "cluster"]
    list_filter = ["cluster__kind"]
    search_fields = ["example__id", "example__external_id"]


from curation.signals import admin as signals_admin  # noqa: E402, F401 - registers its models
