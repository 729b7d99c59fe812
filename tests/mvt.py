"""Tile helpers for tests: tile addresses of a location and decoded tiles (mapbox-vector-tile)."""

from __future__ import annotations

import math

import mapbox_vector_tile
from django.test import Client


def tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int, int]:
    """(zoom, x, y) of the web-mercator tile holding a WGS84 location (independent formula)."""
    tiles = 2**zoom
    x = int((lon + 180.0) / 360.0 * tiles)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * tiles)
    return zoom, x, y


def get_tile(client: Client, slug: str, zoom: int, x: int, y: int) -> tuple[int, dict, object]:
    """(status, layers decoded as {name: features}, response)."""
    response = client.get(f"/tiles/{slug}/{zoom}/{x}/{y}.pbf")
    layers: dict = {}
    if response.status_code == 200 and response.content:
        decoded = mapbox_vector_tile.decode(response.content)
        layers = {name: layer["features"] for name, layer in decoded.items()}
    return response.status_code, layers, response
