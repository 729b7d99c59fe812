"""Sign-in lock-out with django-axes: the hooks its settings name (config/settings.py AXES_*).

Axes counts failed sign-ins per (user name, client address) pair in its database tables, so
every form that calls authenticate(request, ...) is covered: /accounts/login/ and
/admin/login/ alike, across all server processes. Locking on the pair, not on either alone,
means an attacker guessing one account cannot lock its owner out from another address, and
failures for one name never refuse another user behind the same proxy or NAT.

The limit and the window are read from GROUNDMOTION at each request, so they stay in one
place (validated in downloads/apps.py) and tests can change them with the settings fixture.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

LOCKED_MESSAGE = "Too many failed sign-in attempts. Wait a few minutes and try again."


def failure_limit(request: HttpRequest, credentials: dict | None) -> int:
    """AXES_FAILURE_LIMIT: failures of one name from one address before it is refused."""
    return settings.GROUNDMOTION["LOGIN_FAILURE_LIMIT"]


def cool_off(request: HttpRequest | None = None) -> timedelta:
    """AXES_COOLOFF_TIME: failures older than the window no longer count."""
    return timedelta(seconds=settings.GROUNDMOTION["LOGIN_FAILURE_WINDOW_S"])


def client_ip(request: HttpRequest) -> str:
    """AXES_CLIENT_IP_CALLABLE: the client's address, as far as it can be trusted.

    With no trusted proxy (GROUNDMOTION['TRUSTED_PROXY_COUNT'] = 0) it is REMOTE_ADDR and
    X-Forwarded-For is ignored: a client may write anything there. Behind N trusted proxies
    that each append the address they saw, the N-th entry from the right is the one the
    outermost trusted proxy wrote; entries to its left came from the client. The rule is
    DRF's NUM_PROXIES one (django-ipware 8 returns no address for a one-proxy chain).
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.GROUNDMOTION["TRUSTED_PROXY_COUNT"]
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if count <= 0 or not forwarded:
        return remote
    chosen = forwarded[-min(count, len(forwarded))]
    return chosen if is_address(chosen) else remote


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a 429 page that says what happened and when to try again."""
    minutes = max(1, round(cool_off(request).total_seconds() / 60))
    context = {"locked_message": LOCKED_MESSAGE, "minutes": minutes}
    return render(request, "registration/locked.html", context, status=429)
