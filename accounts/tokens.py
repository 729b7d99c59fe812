"""Creating, checking and revoking API tokens (see models.ApiToken for the format)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import ApiToken

TOKEN_PREFIX = "gms"
# Last-used times are written at most this often per token, to keep scripted loops cheap.
LAST_USED_RESOLUTION_S = 60


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for the user; returns the row and the plain token (shown once)."""
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken.objects.create(user=user, name=name, prefix=prefix, secret_hash=digest(token))
    return row, token


def user_for_token(token: str) -> User | None:
    """The active user owning this (unrevoked) token, or None. Records the last use."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    row = (
        ApiToken.objects.select_related("user")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if row is None or not hmac.compare_digest(row.secret_hash, digest(token)):
        return None
    if not row.user.is_active:
        return None
    now = timezone.now()
    stale = now - timezone.timedelta(seconds=LAST_USED_RESOLUTION_S)
    ApiToken.objects.filter(pk=row.pk).exclude(last_used_at__gt=stale).update(last_used_at=now)
    return row.user


def revoke_token(user: User, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False if there is no such active token."""
    updated = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return updated == 1
