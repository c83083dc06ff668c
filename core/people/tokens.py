"""Named API tokens: issuing, authenticating `Authorization: Token <key>`, revoking.

Keys made by rest_framework.authtoken (one per user, stored in the clear) are still accepted, listed and revoked
with the rest, so that scripts holding one keep working until their owner revokes it."""
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token as LegacyToken

from core.people.keys import digest, new_key
from core.people.models import ApiToken

# A token's last use is written at most this often: a script's every request must not be a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenLimitReached(Exception):
    pass


def issue_token(user, name):
    """Make a token for `user` and return (row, key); the key is never stored and cannot be shown again."""
    if ApiToken.objects.filter(user=user).count() >= settings.API_TOKENS_PER_USER:
        raise TokenLimitReached(
            f"You already hold {settings.API_TOKENS_PER_USER} API tokens (API_TOKENS_PER_USER): "
            "revoke some on /account/tokens/ first.")
    key = new_key("lima")
    token = ApiToken.objects.create(user=user, name=name[:100] or "API token", key_hash=digest(key), prefix=key[:12])
    return token, key


def revoke_tokens(user, pk=None):
    """Delete one of the user's tokens (by pk) or all of them, legacy key included; returns how many."""
    tokens = ApiToken.objects.filter(user=user)
    if pk is not None:
        return tokens.filter(pk=pk).delete()[0]
    return tokens.delete()[0] + LegacyToken.objects.filter(user=user).delete()[0]


class ApiTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`: a named token by its digest, else a legacy authtoken key."""

    def authenticate_credentials(self, key):
        token = ApiToken.objects.select_related("user").filter(key_hash=digest(key)).first()
        if token is None:
            return super().authenticate_credentials(key)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
