"""Every request observed (request id, metrics, one log line), and the operations endpoints
answered before the other middlewares.

Both come first in MIDDLEWARE. The observer times everything below it, the 400s of the NUL
guard and WhiteNoise's static files included. The endpoints middleware answers /healthz,
/readyz and /metrics ahead of SecurityMiddleware and CommonMiddleware: a load balancer's or
kubelet's probe names the pod's address as its host (not in ALLOWED_HOSTS: a 400) and speaks
plain HTTP (SECURE_SSL_REDIRECT: a 301).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from operations import metrics
from operations.jsonlog import REQUEST_ID
from operations.views import ENDPOINTS

logger = logging.getLogger("operations.requests")

# A request id from the proxy in front is kept when it is short and plain (it goes into log
# lines as is); any other is replaced by one of ours.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
REQUEST_ID_HEADER = "X-Request-ID"


def request_id_of(request: HttpRequest) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if REQUEST_ID_PATTERN.fullmatch(given) else uuid.uuid4().hex


class ObserveRequests:
    """Request id (X-Request-ID in and out), the request counter and latency histogram by
    route kind, and one `operations.requests` log record a request (INFO: LOG_FORMAT=json
    turns that level on). The path is logged without its query string."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_of(request)
        context = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            kind = metrics.route_kind(request.path_info)
            metrics.observe_request(kind, response.status_code, seconds)
            response[REQUEST_ID_HEADER] = request_id
            if logger.isEnabledFor(logging.INFO):
                log_request(request, response, kind, seconds)
            return response
        finally:
            REQUEST_ID.reset(context)


def log_request(request: HttpRequest, response: HttpResponse, kind: str, seconds: float) -> None:
    logger.info(
        "%s %s %s",
        request.method,
        request.path_info,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path_info,
            "route_kind": kind,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 2),
        },
    )


class AnswerOperationsEndpoints:
    """/healthz, /readyz and /metrics answered here, the rest passed on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = ENDPOINTS.get(request.path_info)
        if view is None:
            return self.get_response(request)
        return view(request)
