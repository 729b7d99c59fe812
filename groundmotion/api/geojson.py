"""GeoJSON polygons from request bodies, checked member by member before GEOS sees them.

GEOS and GDAL report bad input as assorted exceptions (or not at all: a string of coordinates
became a TypeError deep inside, `{"type": "Polygon"}` a KeyError). Walking the structure first
gives each mistake a 400 that says where it is, e.g. `coordinates[0][2]: ...`.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.gis.geos import GEOSGeometry, LinearRing, MultiPolygon, Polygon

from groundmotion.exports.area import polygon_problem

KINDS = ("Polygon", "MultiPolygon")
# Drawn areas have tens of vertices; this bounds the work a single request can ask of GEOS.
MAX_VERTICES = 10_000


class GeoJSONError(ValueError):
    """A GeoJSON value the API cannot use; the message names the member at fault."""


def polygon_from_geojson(value: Any) -> GEOSGeometry:
    """A valid, non-empty WGS84 Polygon or MultiPolygon from a GeoJSON geometry or Feature."""
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict):
        raise GeoJSONError("must be a GeoJSON Polygon or MultiPolygon object")
    kind = value.get("type")
    if kind not in KINDS:
        raise GeoJSONError("type must be Polygon or MultiPolygon")
    coordinates = value.get("coordinates")
    if not isinstance(coordinates, list):
        raise GeoJSONError("coordinates must be an array")
    reader = Reader()
    if kind == "Polygon":
        geometry = reader.polygon(coordinates, "coordinates")
    elif len(coordinates) > MAX_VERTICES:
        raise GeoJSONError(f"coordinates: more than {MAX_VERTICES} polygons")
    else:
        geometry = MultiPolygon(
            *(
                reader.polygon(part, f"coordinates[{index}]")
                for index, part in enumerate(coordinates)
            )
        )
    geometry.srid = 4326
    problem = polygon_problem(geometry)
    if problem:
        raise GeoJSONError(problem)
    return geometry


class Reader:
    """Reads rings and positions, counting vertices so that no request can ask GEOS for more
    than MAX_VERTICES (checked as they are read, before any geometry is built)."""

    def __init__(self) -> None:
        self.vertices = 0

    def polygon(self, rings: Any, where: str) -> Polygon:
        """A Polygon from its GeoJSON rings: an array of closed arrays of positions."""
        if not isinstance(rings, list):
            raise GeoJSONError(f"{where} must be an array of linear rings")
        return Polygon(*(self.ring(item, f"{where}[{index}]") for index, item in enumerate(rings)))

    def ring(self, positions: Any, where: str) -> LinearRing:
        """A closed ring of at least four positions (the first repeated at the end)."""
        if not isinstance(positions, list) or len(positions) < 4:
            raise GeoJSONError(f"{where} must be an array of at least 4 positions")
        self.vertices += len(positions)
        if self.vertices > MAX_VERTICES:
            raise GeoJSONError(f"coordinates: more than {MAX_VERTICES} vertices")
        points = [position(item, f"{where}[{index}]") for index, item in enumerate(positions)]
        if points[0] != points[-1]:
            raise GeoJSONError(f"{where} must be closed: its last position repeats the first")
        return LinearRing(points)


def position(value: Any, where: str) -> tuple[float, float]:
    """(longitude, latitude) in degrees; a third number (height) is accepted and dropped."""
    if not isinstance(value, list) or len(value) not in (2, 3) or not all(map(is_number, value)):
        raise GeoJSONError(f"{where} must be [longitude, latitude] in numbers")
    try:
        lon, lat = float(value[0]), float(value[1])
    except OverflowError:  # an integer beyond any float
        raise GeoJSONError(f"{where} must be finite numbers") from None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise GeoJSONError(f"{where} must be finite numbers")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise GeoJSONError(f"{where} must be within longitude -180..180 and latitude -90..90")
    return lon, lat


def is_number(value: Any) -> bool:
    """JSON numbers only: true and false are not coordinates."""
    return isinstance(value, int | float) and not isinstance(value, bool)
