"""Request parsing for the API: bbox and attribute filters, area requests. Bad input is a 400."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.gis.geos import GEOSException, GEOSGeometry, Polygon
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

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
    """(dataset slug, polygon in WGS84) from {"dataset": slug, "geometry": GeoJSON polygon}."""
    if not isinstance(data, dict) or not isinstance(data.get("dataset"), str):
        raise ValidationError({"dataset": "a dataset slug is required"})
    geometry = data.get("geometry")
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValidationError({"geometry": "a GeoJSON Polygon or MultiPolygon is required"})
    try:
        polygon = GEOSGeometry(json.dumps(geometry), srid=4326)
    except (GEOSException, ValueError, TypeError):
        raise ValidationError({"geometry": "not valid GeoJSON"}) from None
    if not polygon.valid or polygon.empty:
        raise ValidationError({"geometry": "the polygon is invalid or empty"})
    if polygon.area > MAXIMUM_AREA_DEGREES2:
        raise ValidationError({"geometry": "the area is too large"})
    return data["dataset"], polygon
