"""The tile endpoint: access check, ETag, server-side cache, then groundmotion/tiles.py."""

from __future__ import annotations

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


def tile_cache_key(dataset_id: int, version: int, kind: str, address: tiles.TileAddress) -> str:
    return f"tile:{dataset_id}:{version}:{kind}:{address.zoom}:{address.x}:{address.y}"


def cached_tile(
    request: HttpRequest, dataset: Dataset, address: tiles.TileAddress, kind: tiles.TileKind
) -> bytes:
    """The tile from the server-side cache, rendered and stored on a miss."""
    seconds = settings.GROUNDMOTION.get("TILE_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)
    if seconds <= 0:
        return tiles.render_tile(request.user, dataset, address, kind)
    key = tile_cache_key(dataset.pk, dataset.version, kind.name, address)
    body = cache.get(key)
    if body is None:
        body = tiles.render_tile(request.user, dataset, address, kind)
        cache.set(key, body, seconds)
    return body


@require_safe
def tile(request: HttpRequest, slug: str, zoom: int, x: int, y: int) -> HttpResponse:
    """One vector tile of a dataset: cells below the point zoom, points from it."""
    address = tiles.TileAddress(zoom, x, y)
    if not address.is_valid():
        raise Http404("No such tile")
    dataset, _ = access.get_dataset_for_user(request.user, slug)
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
