"""The studio's own models: what a person chose for how the pages look (one row per user, made on their first
choice); the people models (invitations, tokens, audit) live in core.people.models."""
from django.conf import settings
from django.db import models

from core.people.models import ApiToken, AuditEntry, Invitation  # noqa: F401


class UserPreference(models.Model):
    class Theme(models.TextChoices):
        SYSTEM = "system", "Follow the system"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.SYSTEM)

    def __str__(self):
        return f"{self.user} · {self.theme}"
