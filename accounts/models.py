"""API tokens for scripted downloads: named, revocable, hashed, with their last use.

A token reads `gms_<prefix>_<secret>`. Only the prefix (to find the row) and the SHA-256 of the
whole token are stored: the secret is shown once, at creation. SHA-256 suffices (no slow
hash): the secret has 256 bits of entropy, so there is nothing to brute-force.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Used by the account page: a user's tokens, newest first.
            models.Index(fields=["user", "-created_at"], name="token_user_created"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
