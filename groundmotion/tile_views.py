"""The tile endpoint: access check, ETag, server-side cache, then groundmotion/tiles.py.

Server-side cache in two tiers: a small per-process LRU (LocalTiles) in front of the Django
cache (Redis through CACHE_URL in production, shared by every gunicorn worker). Keys carry the
dataset version and the tile kind, so a new version never meets an old tile. Access is decided
by the database (access.get_dataset_for_tiles, one narrow query) at every request of a signed-in
user; an anonymous user's answer about a published public dataset is kept a second, shorter than
the hour its tiles may sit in shared caches (see access.public_tile_lookups).

The user is the session's or, for scripts and QGIS, the owner of `Authorization: Token …`
(accounts.authentication.request_user); a bad token is a 401. The cache tiers are keyed by what
the user may see (the tile kind), never by who asked, and are filled only after the access
check, so a token user's tile of a restricted dataset is served again only to users who pass
that check too; it leaves with Cache-Control private, like every tile that is not public.

Tiles go out gzip-compressed to every client that accepts it (every browser does), as tile
servers and MBTiles do: MVT compresses about twofold (a z13-16 tile of 63 KB to 31 KB) and
ISA-L does it in ~0.25 ms. Both cache tiers hold the compressed bytes; the rare client without
gzip gets them inflated.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.gzip import re_accepts_gzip
from django.views.decorators.http import require_safe
from isal import igzip

from accounts.authentication import TokenRefused, request_user, token_refusal
from groundmotion import access, analysis_tiles, tiles
from groundmotion.access import AnyUser
from groundmotion.analysis import (
    Analysis,
    AnalysisError,
    Reference,
    parse_analysis,
    resolve_reference,
)
from groundmotion.models import Dataset, Status, Visibility
from operations.metrics import count_tile_lookup

# Public tiles may sit in shared caches for a while; others only in the user's browser.
PUBLIC_CACHE_CONTROL = "public, max-age=3600"
PRIVATE_CACHE_CONTROL = "private, max-age=600"
DEFAULT_CACHE_SECONDS = 3600
DEFAULT_LOCAL_CACHE_MB = 64


class LocalTiles:
    """A per-process LRU of tile bytes, bounded by their total size in bytes."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.size_bytes = 0
        self.entries: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self.lock:
            body = self.entries.get(key)
            if body is not None:
                self.entries.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.limit_bytes:
            return
        with self.lock:
            previous = self.entries.pop(key, None)
            self.size_bytes += len(body) - (len(previous) if previous is not None else 0)
            self.entries[key] = body
            while self.size_bytes > self.limit_bytes:
                _, evicted = self.entries.popitem(last=False)
                self.size_bytes -= len(evicted)


local_tiles = LocalTiles(
    settings.GROUNDMOTION.get("TILE_LOCAL_CACHE_MB", DEFAULT_LOCAL_CACHE_MB) * 1024 * 1024
)


def tile_cache_key(dataset_id: int, version: int, kind: str, address: tiles.TileAddress) -> str:
    return f"tile:{dataset_id}:{version}:{kind}:{address.zoom}:{address.x}:{address.y}"


def compress(body: bytes) -> bytes:
    """gzip at ISA-L's level 1 (zlib level 1's size, 4x its speed); empty stays empty."""
    return igzip.compress(body, compresslevel=1) if body else b""


def decompress(body: bytes) -> bytes:
    return igzip.decompress(body) if body else b""


def accepts_gzip(request: HttpRequest) -> bool:
    return bool(re_accepts_gzip.search(request.headers.get("Accept-Encoding", "")))


@dataclass(frozen=True)
class Asked:
    """A tile's analysis (analysis.py) with its reference resolved for the user, and the text
    it adds to cache keys and ETags."""

    analysis: Analysis = field(default_factory=Analysis)
    reference: Reference | None = None
    key: str = ""


def asked_of(request: HttpRequest, user: AnyUser, dataset: Dataset) -> Asked:
    """The tile's analysis; AnalysisError for a bad parameter, Http404 for a reference the
    user may not see — decided before any cache is read, so a cached tile never answers a user
    who may not see its reference."""
    asked = parse_analysis(request.GET)
    if asked.is_plain:
        return Asked()
    reference = resolve_reference(user, dataset, asked)
    # An area's reference is the mean of the points the user sees: masked ones or not.
    who = "m" if asked.reference_area and access.sees_masked_points(user) else ""
    return Asked(asked, reference, f"~{asked.key()}{who}")


def rendered(
    user: AnyUser,
    dataset: Dataset,
    address: tiles.TileAddress,
    kind: tiles.TileKind,
    asked: Asked,
) -> bytes:
    if asked.analysis.is_plain:
        return tiles.render_tile(user, dataset, address, kind)
    return analysis_tiles.render_analysis_tile(
        user, dataset, address, kind, asked.analysis, asked.reference
    )


def compressed_tile(
    user: AnyUser,
    dataset: Dataset,
    address: tiles.TileAddress,
    kind: tiles.TileKind,
    seconds: int,
    asked: Asked,
) -> bytes:
    """The gzip tile from this process's LRU, else the shared cache, else rendered and stored
    there for `seconds`."""
    key = tile_cache_key(dataset.pk, dataset.version, kind.name + asked.key, address)
    body = local_tiles.get(key)
    count_tile_lookup("local", body is not None)
    if body is not None:
        return body
    body = cache.get(key)
    count_tile_lookup("shared", body is not None)
    if body is None:
        body = compress(rendered(user, dataset, address, kind, asked))
        cache.set(key, body, seconds)
    local_tiles.put(key, body)
    return body


def tile_body(
    user: AnyUser,
    dataset: Dataset,
    address: tiles.TileAddress,
    kind: tiles.TileKind,
    gzip: bool,
    asked: Asked,
) -> bytes:
    """The tile's bytes, gzip-compressed or not; cached unless TILE_CACHE_SECONDS is 0."""
    seconds = settings.GROUNDMOTION.get("TILE_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)
    if seconds <= 0:
        body = rendered(user, dataset, address, kind, asked)
        return compress(body) if gzip else body
    body = compressed_tile(user, dataset, address, kind, seconds, asked)
    return body if gzip else decompress(body)


@require_safe
def tile(request: HttpRequest, slug: str, zoom: int, x: int, y: int) -> HttpResponse:
    """One vector tile of a dataset: cells below the point zoom, points from it."""
    address = tiles.TileAddress(zoom, x, y)
    if not address.is_valid():
        raise Http404("No such tile")
    try:
        user = request_user(request)
    except TokenRefused as error:
        return token_refusal(error)
    dataset = access.get_dataset_for_tiles(user, slug)
    kind = tiles.tile_kind(user, dataset, zoom, y)
    try:
        asked = asked_of(request, user, dataset)
    except AnalysisError as error:
        return JsonResponse(error.as_dict(), status=400)
    gzip = accepts_gzip(request)
    # Each encoding is its own representation, so it has its own strong ETag.
    etag = f'"{dataset.pk}.{dataset.version}.{kind.name}{asked.key}{".gz" if gzip else ""}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        try:
            body = tile_body(user, dataset, address, kind, gzip, asked)
        except AnalysisError as error:
            return JsonResponse(error.as_dict(), status=400)
        except OperationalError:
            # The statement timeout fired: say so and let the client retry, never a 500.
            return HttpResponse("Tile took too long", status=503, headers={"Retry-After": "5"})
        response = HttpResponse(body, content_type=tiles.CONTENT_TYPE)
        if gzip and body:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    # A referenced tile depends on who may see the reference: never in shared caches.
    public = is_public(dataset, kind) and asked.reference is None
    response["Cache-Control"] = PUBLIC_CACHE_CONTROL if public else PRIVATE_CACHE_CONTROL
    # A public tile is the same whoever asks; any other depends on the session or the token.
    response["Vary"] = (
        "Cookie, Accept-Encoding" if public else "Cookie, Authorization, Accept-Encoding"
    )
    return response


def is_public(dataset: Dataset, kind: tiles.TileKind) -> bool:
    """Whether the tile is the same for everyone, so that shared caches may keep it."""
    public = dataset.status == Status.PUBLISHED and dataset.visibility == Visibility.PUBLIC
    return public and not kind.masked
