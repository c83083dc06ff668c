"""Invitations, API tokens and the audit log. Secrets (invitation and token keys) are stored as SHA-256 digests:
the plain key is shown once, when it is made, and a copy of the database lets nobody in."""
from django.conf import settings
from django.db import models


class Invitation(models.Model):
    """A one-time link that lets someone set a password for a new account with a role."""

    username = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=20)
    key_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="invitations")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"invitation of {self.username} as {self.role}"

    def state(self, now):
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "open"


class ApiToken(models.Model):
    """A named key for scripts (`Authorization: Token <key>`); a user may hold several and revoke each."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    # The first characters of the key, to tell tokens apart on the page.
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class AuditEntry(models.Model):
    """Who did what to which account: creations, invitations, roles, (de)activations, token revocations, unlocks."""

    class Action(models.TextChoices):
        CREATED = "created", "created the account"
        INVITED = "invited", "invited"
        INVITATION_REVOKED = "invitation_revoked", "revoked the invitation of"
        ACCEPTED = "accepted", "accepted an invitation"
        ROLE_CHANGED = "role_changed", "changed the role of"
        DEACTIVATED = "deactivated", "deactivated"
        REACTIVATED = "reactivated", "reactivated"
        PASSWORD_CHANGED = "password_changed", "changed the password of"
        TOKENS_REVOKED = "tokens_revoked", "revoked API tokens of"
        UNLOCKED = "unlocked", "unlocked the logins of"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Names are kept besides the keys: the log still reads right after an account is deleted.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=30, choices=Action.choices)
    target = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    target_name = models.CharField(max_length=150)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.actor_name or 'system'} {self.get_action_display()} {self.target_name}"
