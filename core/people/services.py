"""The verbs of people management. Views and commands call these; each writes its audit entry in the same
transaction as the change it records."""
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from core.people.keys import digest, new_key
from core.people.models import AuditEntry, Invitation
from core.people.tokens import revoke_tokens
from core.roles import ADMIN, ANNOTATOR, ensure_roles, role_of

ROLES = (ANNOTATOR, ADMIN)


class PeopleError(Exception):
    """A refused change, with a message for the page."""


def audit(actor, action, target, before=None, after=None, target_name=None):
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_name=actor.get_username() if actor is not None and actor.pk else "",
        action=action, target=target, target_name=target_name or (target.get_username() if target else ""),
        before=before or {}, after=after or {},
    )


def _check_role(role):
    if role not in ROLES:
        raise PeopleError(f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.")


def _check_free_username(username):
    if get_user_model().objects.filter(username__iexact=username).exists():
        raise PeopleError(f"The username {username!r} is taken.")


def _apply_role(user, role):
    """Annotators and admins are groups; admins also open the Django admin (is_staff)."""
    groups = ensure_roles()
    user.groups.set([groups[role]] if role else [])
    if user.is_staff != (role == ADMIN) and not user.is_superuser:
        user.is_staff = role == ADMIN
        user.save(update_fields=["is_staff"])


def _check_may_change(actor, user):
    if user.pk == actor.pk:
        raise PeopleError("You cannot change your own account here: ask another admin.")
    if user.is_superuser and not actor.is_superuser:
        raise PeopleError(f"{user.get_username()} is a superuser: only a superuser may change that account.")


@transaction.atomic
def create_user(actor, username, email, role, password):
    _check_role(role)
    _check_free_username(username)
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    _apply_role(user, role)
    audit(actor, AuditEntry.Action.CREATED, user, after={"role": role, "email": email, "is_active": True})
    return user


def invitation_link(build_absolute_uri, key):
    return build_absolute_uri(f"/invite/{key}/")


def invite_user(actor, username, email, role, build_absolute_uri):
    """Make an invitation and mail its link; returns (invitation, link, mail_error). The link holds the only copy of
    its key. The mail goes after the commit: a mail server that fails leaves the invitation, whose link the page
    shows to copy, and says why."""
    _check_role(role)
    with transaction.atomic():
        _check_free_username(username)
        if Invitation.objects.filter(username__iexact=username, accepted_at=None, revoked_at=None,
                                     expires_at__gt=timezone.now()).exists():
            raise PeopleError(f"{username!r} already has an open invitation: revoke it to send a new one.")
        key = new_key("inv")
        invitation = Invitation.objects.create(
            username=username, email=email, role=role, key_hash=digest(key), invited_by=actor,
            expires_at=timezone.now() + timedelta(hours=settings.INVITE_EXPIRY_HOURS))
        audit(actor, AuditEntry.Action.INVITED, None, target_name=username,
              after={"role": role, "email": email, "expires_at": invitation.expires_at.isoformat()})
    link = invitation_link(build_absolute_uri, key)
    mail_error = None
    if email:
        try:
            send_mail("Your LIMA Studio account",
                      f"{actor.get_username()} invited you to LIMA Studio as an {role}.\n\n"
                      f"Set your password here (the link works once, for {settings.INVITE_EXPIRY_HOURS:g} hours):\n"
                      f"{link}\n\nYour username: {username}\n",
                      None, [email])
        except (OSError, ConnectionError) as error:  # smtplib's errors are OSErrors
            mail_error = f"The mail to {email} could not be sent ({type(error).__name__}): pass the link on yourself."
    return invitation, link, mail_error


def find_invitation(key):
    """The open invitation of a key, or None (unknown, used, revoked or expired alike)."""
    invitation = Invitation.objects.filter(key_hash=digest(key)).first()
    if invitation is None or invitation.state(timezone.now()) != "open":
        return None
    return invitation


@transaction.atomic
def accept_invitation(key, password):
    """Create the invited account with `password` (already validated). Single use: the claim is one UPDATE."""
    invitation = find_invitation(key)
    now = timezone.now()
    if invitation is None or Invitation.objects.filter(
            pk=invitation.pk, accepted_at=None, revoked_at=None, expires_at__gt=now).update(accepted_at=now) != 1:
        raise PeopleError("This invitation link is not valid any more: it was used, revoked or has expired. "
                          "Ask an admin for a new one.")
    _check_free_username(invitation.username)
    user = get_user_model().objects.create_user(username=invitation.username, email=invitation.email,
                                                password=password)
    _apply_role(user, invitation.role)
    Invitation.objects.filter(pk=invitation.pk).update(user=user)
    audit(user, AuditEntry.Action.ACCEPTED, user, after={"role": invitation.role})
    return user


@transaction.atomic
def revoke_invitation(actor, invitation):
    if Invitation.objects.filter(pk=invitation.pk, accepted_at=None, revoked_at=None).update(
            revoked_at=timezone.now()) != 1:
        raise PeopleError("That invitation was already used or revoked.")
    audit(actor, AuditEntry.Action.INVITATION_REVOKED, None, target_name=invitation.username,
          before={"role": invitation.role})


@transaction.atomic
def change_role(actor, user, role):
    _check_role(role)
    _check_may_change(actor, user)
    before = role_of(user)
    if before == role:
        return False
    _apply_role(user, role)
    audit(actor, AuditEntry.Action.ROLE_CHANGED, user, before={"role": before}, after={"role": role})
    return True


@transaction.atomic
def set_active(actor, user, active):
    """Deactivate (the account cannot log in, its API tokens are revoked by the signal) or reactivate."""
    _check_may_change(actor, user)
    if user.is_active == active:
        return False
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit(actor, AuditEntry.Action.REACTIVATED if active else AuditEntry.Action.DEACTIVATED, user,
          before={"is_active": not active}, after={"is_active": active})
    return True


@transaction.atomic
def revoke_all_tokens(actor, user, reason):
    count = revoke_tokens(user)
    if count:
        audit(actor, AuditEntry.Action.TOKENS_REVOKED, user, before={"tokens": count}, after={"tokens": 0,
                                                                                             "reason": reason})
    return count


def unlock(actor, username):
    """Forget the failed logins of `username` (axes), so that it may log in again at once."""
    from axes.utils import reset

    count = reset(username=username)
    audit(actor, AuditEntry.Action.UNLOCKED, get_user_model().objects.filter(username=username).first(),
          target_name=username, before={"lockouts": count})
    return count

