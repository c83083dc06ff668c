"""A changed password or a deactivated account revokes the account's API tokens, wherever the change is made
(the account page, the people page, `manage.py changepassword`, the Django admin, a password reset)."""
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from core.people.models import AuditEntry


@receiver(pre_save, sender=get_user_model())
def note_credential_changes(sender, instance, update_fields=None, raw=False, **kwargs):
    instance._revoke_tokens_because = None
    if raw or instance.pk is None:
        return
    # Logins save last_login alone: that save needs no look at the stored row.
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if stored is None:
        return
    if stored["is_active"] and not instance.is_active:
        instance._revoke_tokens_because = "deactivated"
    elif stored["password"] != instance.password and not _is_rehash(instance, update_fields):
        instance._revoke_tokens_because = "password changed"


def _is_rehash(user, update_fields):
    """check_password() re-hashes a correct password when the hasher's cost rises: the same password, kept tokens.
    It saves the password alone and, unlike set_password(), leaves no raw password on the instance."""
    return getattr(user, "_password", None) is None and update_fields is not None and set(update_fields) == {"password"}


@receiver(post_save, sender=get_user_model())
def revoke_tokens_after_credential_changes(sender, instance, created=False, raw=False, **kwargs):
    reason = getattr(instance, "_revoke_tokens_because", None)
    instance._revoke_tokens_because = None
    if not reason:
        return
    from core.people.services import audit, revoke_all_tokens

    if reason == "password changed":
        audit(None, AuditEntry.Action.PASSWORD_CHANGED, instance)
    revoke_all_tokens(None, instance, reason)
