from django.contrib import admin

from core.people.models import ApiToken, AuditEntry, Invitation


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "target_name"]
    list_filter = ["action"]
    search_fields = ["actor_name", "target_name"]
    readonly_fields = [field.name for field in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "prefix", "created_at", "last_used_at"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["user", "key_hash", "prefix", "created_at", "last_used_at"]
    exclude = []

    def has_add_permission(self, request):
        return False  # a key is shown only to its owner, when made: on /account/tokens/


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["username", "email", "role", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["username", "email"]
    readonly_fields = ["key_hash", "user", "accepted_at", "invited_by"]

    def has_add_permission(self, request):
        return False  # made on the People page, which mails the link
