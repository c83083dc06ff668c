from core.people.models import ApiToken, AuditEntry, Invitation  # noqa: F401
