"""The tile endpoint: access check, ETag, server-side cache, then groundmotion/tiles.py.

Server-side cache in two tiers: a small per-process LRU (LocalTiles) in front of the Django
cache (Redis through CACHE_URL in production, shared by every gunicorn worker). Keys carry the
dataset version and the tile kind, so a new version never meets an old tile; access is still
decided on every request from the database (one narrow query), never from a cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from groundmotion import access, tiles
from groundmotion.models import Dataset, Status, Visibility

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


def cached_tile(
    request: HttpRequest, dataset: Dataset, address: tiles.TileAddress, kind: tiles.TileKind
) -> bytes:
    """The tile from this process's LRU, else the shared cache, else rendered and stored."""
    seconds = settings.GROUNDMOTION.get("TILE_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)
    if seconds <= 0:
        return tiles.render_tile(request.user, dataset, address, kind)
    key = tile_cache_key(dataset.pk, dataset.version, kind.name, address)
    body = local_tiles.get(key)
    if body is not None:
        return body
    body = cache.get(key)
    if body is None:
        body = tiles.render_tile(request.user, dataset, address, kind)
        cache.set(key, body, seconds)
    local_tiles.put(key, body)
    return body


@require_safe
def tile(request: HttpRequest, slug: str, zoom: int, x: int, y: int) -> HttpResponse:
    """One vector tile of a dataset: cells below the point zoom, points from it."""
    address = tiles.TileAddress(zoom, x, y)
    if not address.is_valid():
        raise Http404("No such tile")
    dataset = access.get_dataset_for_tiles(request.user, slug)
    kind = tiles.tile_kind(request.user, dataset, zoom)
    etag = f'"{dataset.pk}.{dataset.version}.{kind.name}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        try:
            body = cached_tile(request, dataset, address, kind)
        except OperationalError:
            # The statement timeout fired: say so and let the client retry, never a 500.
            return HttpResponse("Tile took too long", status=503, headers={"Retry-After": "5"})
        response = HttpResponse(body, content_type=tiles.CONTENT_TYPE)
    response["ETag"] = etag
    public = dataset.status == Status.PUBLISHED and dataset.visibility == Visibility.PUBLIC
    public = public and not kind.masked
    response["Cache-Control"] = PUBLIC_CACHE_CONTROL if public else PRIVATE_CACHE_CONTROL
    response["Vary"] = "Cookie"
    return response
