"""/healthz, /readyz and /metrics: unauthenticated probes and the Prometheus scrape.

/metrics is served to loopback clients, or, once METRICS_TOKEN is set, to any client sending
`Authorization: Bearer <METRICS_TOKEN>` (and then only to those: behind a reverse proxy on the
same host every request comes from loopback). A loopback request that carries a forwarding
header came through a proxy, so it is refused too.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from operations.checks import readiness
from operations.collectors import DatabaseCollector

FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answers; no database, no broker."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, else 503; each check's status, time and reason."""
    checks = readiness.current()
    ready = all(result["status"] == "ok" for result in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    refusal = metrics_refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)


def metrics_refusal(request: HttpRequest) -> JsonResponse | None:
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, f"Bearer {token}".encode()):
            return None
        response = JsonResponse({"detail": "a valid bearer token is required"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if is_loopback(request.META.get("REMOTE_ADDR", "")) and not any(
        header in request.META for header in FORWARDING_HEADERS
    ):
        return None
    return JsonResponse(
        {"detail": "metrics are served to loopback clients, or with METRICS_TOKEN"}, status=403
    )


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class ThisProcess:
    """The default registry's metrics (this process's counters, CPU and memory) as a
    collector of a scrape's own registry."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


def scrape() -> bytes:
    """The text exposition: the web processes' metrics (summed over every process when
    PROMETHEUS_MULTIPROC_DIR is set, see operations/metrics.py), then the database's."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(ThisProcess())
    registry.register(DatabaseCollector())
    return generate_latest(registry)


# Path -> view; operations.urls routes them, and operations.middleware answers them before
# the other middlewares (probes name no allowed host and come over plain HTTP).
ENDPOINTS = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}
