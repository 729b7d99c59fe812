"""Login throttling: failed attempts counted per user name and per client address in the cache.

After GROUNDMOTION['LOGIN_FAILURE_LIMIT'] failures within LOGIN_FAILURE_WINDOW_S seconds,
further attempts for that name or from that address are refused until the window passes.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def keys(request: HttpRequest, username: str) -> list[str]:
    address = request.META.get("REMOTE_ADDR", "")
    name = hashlib.sha256(username.strip().lower().encode("utf-8")).hexdigest()[:32]
    return [f"login-failures:user:{name}", f"login-failures:ip:{address}"]


def is_locked(request: HttpRequest, username: str) -> bool:
    limit = settings.GROUNDMOTION["LOGIN_FAILURE_LIMIT"]
    return any(cache.get(key, 0) >= limit for key in keys(request, username))


def record_failure(request: HttpRequest, username: str) -> None:
    window = settings.GROUNDMOTION["LOGIN_FAILURE_WINDOW_S"]
    for key in keys(request, username):
        if cache.add(key, 1, timeout=window):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window)


def reset(request: HttpRequest, username: str) -> None:
    cache.delete(keys(request, username)[0])
