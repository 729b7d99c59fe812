"""Project-wide guards around every view: NUL characters refused, API 404s in JSON, open
data readable from other sites (CORS).

NUL characters cannot be stored or compared in PostgreSQL text, so a NUL in a query parameter,
the path, a header, a cookie (a token, a session key) or a form field (a token's name) would
fail deep inside a query as a 500. They are never meaningful input here: refuse them at the
door with a 400 naming the part.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

NUL = "\x00"
MESSAGE = "must not contain NUL characters"
API_PREFIX = "/api/"
OGC_PREFIX = "/ogc/"
CORS_PREFIXES = ("/tiles/", OGC_PREFIX)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectNulCharacters:
    """400 `{"<parameter>": "must not contain NUL characters"}`, the shape of the API's other
    parameter errors, for any NUL in the request line, headers, cookies or form fields. JSON
    bodies are left to SafeJSONParser, which names the member."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = nul_place(request)
        if where is not None:
            return JsonResponse({where: MESSAGE}, status=400)
        return self.get_response(request)


def nul_place(request: HttpRequest) -> str | None:
    """The name of the first part holding a NUL: `path`, a query parameter, a header, a cookie
    or a form field."""
    if NUL in request.path_info:
        return "path"
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            return printable(name)
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and NUL in value:
            return f"header {key[5:].replace('_', '-').title()}"
    # A quoted cookie ("a\\000b") holds a NUL only once parsed, e.g. a forged session key.
    for name, value in request.COOKIES.items():
        if NUL in name or NUL in value:
            return f"cookie {printable(name)}"
    return form_nul_place(request)


def form_nul_place(request: HttpRequest) -> str | None:
    """The first form field holding a NUL. Form bodies only (Django parses them once and
    keeps them, DRF included); JSON bodies are SafeJSONParser's to check."""
    if request.method != "POST" or request.content_type not in FORM_TYPES:
        return None
    for name, values in request.POST.lists():
        if NUL in name or any(NUL in value for value in values):
            return printable(name)
    return None


def printable(name: str) -> str:
    """A name as the message can carry it: a NUL shown as `\\0`, not echoed."""
    return name.replace(NUL, "\\0")


class JsonNotFoundUnderApi:
    """A 404 under /api/ that Django's URL resolver answered with its HTML page (the path
    matched no route, e.g. /api/points/abc/) becomes `{"detail": "Not found."}`, as the API
    views answer: API clients read JSON, and the schema documents it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 404 or not response.get("Content-Type", "").startswith(
            "text/html"
        ):
            return response
        if request.path_info.startswith(API_PREFIX):
            return JsonResponse({"detail": "Not found."}, status=404)
        if request.path_info.startswith(OGC_PREFIX) and "f=html" not in request.get_full_path():
            return JsonResponse({"code": "NotFound", "description": "Not found."}, status=404)
        return response


class OpenDataCors:
    """Tiles, their TileJSON and style, and OGC API - Features may be read by pages of other
    sites (a MapLibre map on a municipality's site, a web GIS): `Access-Control-Allow-Origin: *`
    and an answer to the preflight of a request carrying a token.

    Why `*` is safe with per-user answers: a browser exposes a response with `*` only to
    requests sent without credentials, so a page elsewhere never reads what a visitor's session
    cookie would have shown them; it reads private data only with a token it was given."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(CORS_PREFIXES):
            return self.get_response(request)
        if request.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response["Access-Control-Allow-Headers"] = "Authorization, Accept, If-None-Match"
            response["Access-Control-Max-Age"] = "86400"
        else:
            response = self.get_response(request)
            response["Access-Control-Expose-Headers"] = "ETag"
        response["Access-Control-Allow-Origin"] = "*"
        return response
