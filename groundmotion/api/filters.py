"""Request parsing for the API: bbox and attribute filters, area requests. Bad input is a 400."""

from __future__ import annotations

from typing import Any

from django.contrib.gis.geos import GEOSGeometry, Polygon
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from groundmotion.api import geojson
from groundmotion.models import MeasurementPoint

# Query parameter -> (field lookup), each a float.
RANGE_FILTERS = {
    "velocity_min": "velocity__gte",
    "velocity_max": "velocity__lte",
    "coherence_min": "temporal_coherence__gte",
}
MAXIMUM_AREA_DEGREES2 = 4.0


def parse_float(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValidationError({name: f"must be a number, not {text!r}"}) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValidationError({name: "must be finite"})
    return value


def parse_bbox(text: str) -> Polygon:
    """'min lon,min lat,max lon,max lat' in WGS84 degrees."""
    parts = text.split(",")
    if len(parts) != 4:
        raise ValidationError({"in_bbox": "expected min lon,min lat,max lon,max lat"})
    west, south, east, north = (parse_float("in_bbox", part) for part in parts)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValidationError({"in_bbox": "expected west < east and south < north in degrees"})
    box = Polygon.from_bbox((west, south, east, north))
    box.srid = 4326
    return box


def filter_points(points: QuerySet[MeasurementPoint], request: Request) -> QuerySet:
    """Apply in_bbox, pid and the range filters named in RANGE_FILTERS."""
    parameters = request.query_params
    if parameters.get("in_bbox"):
        points = points.filter(geom__bboverlaps=parse_bbox(parameters["in_bbox"]))
    if parameters.get("pid"):
        points = points.filter(pid=parameters["pid"])
    for name, lookup in RANGE_FILTERS.items():
        if parameters.get(name):
            points = points.filter(**{lookup: parse_float(name, parameters[name])})
    return points


def area_request(data: Any) -> tuple[str, GEOSGeometry]:
    """(dataset slug, polygon in WGS84) from {"dataset": slug, "geometry": GeoJSON polygon}.

    A self-intersecting polygon is a 400 with GEOS's reason, not repaired (see
    exports.area.parse_polygon)."""
    if not isinstance(data, dict):
        raise ValidationError({"detail": "the body must be a JSON object"})
    slug = data.get("dataset")
    if not isinstance(slug, str) or not slug:
        raise ValidationError({"dataset": "a dataset slug is required"})
    if "\x00" in slug:
        raise ValidationError({"dataset": "must not contain NUL characters"})
    try:
        polygon = geojson.polygon_from_geojson(data.get("geometry"))
    except geojson.GeoJSONError as error:
        raise ValidationError({"geometry": str(error)}) from None
    if polygon.area > MAXIMUM_AREA_DEGREES2:
        raise ValidationError({"geometry": "the area is too large"})
    return slug, polygon
