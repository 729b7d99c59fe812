"""A GNSS station against the points of a layer around it: the geodesist's first check.

The station's velocity is taken in the layer's direction: up for up-down, east for east-west,
and for line-of-sight layers along the mean LOS unit vector (ground towards satellite) of the
points around it, with its std propagated. The points' mean velocity, their spread and the
mean's standard error come from the points the user may see (masked areas left out).
"""

from __future__ import annotations

import math

from django.contrib.gis.geos import Polygon
from django.contrib.gis.measure import D
from django.db.models import Avg, Count, StdDev
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from groundmotion import access
from groundmotion.api.openapi import error_responses
from groundmotion.models import Component, GNSSStation, Level
from groundmotion.quantities import quantity

DEFAULT_RADIUS_M = 200.0
MAX_RADIUS_M = 2000.0
METRES_PER_DEGREE = 111_320.0


def radius_from(request: Request) -> float:
    text = request.query_params.get("radius_m", "")
    if text == "":
        return DEFAULT_RADIUS_M
    try:
        radius = float(text)
    except ValueError:
        raise ValidationError({"radius_m": "a number of metres"}) from None
    if not 0 < radius <= MAX_RADIUS_M:
        raise ValidationError({"radius_m": f"between 0 and {MAX_RADIUS_M:.0f} m"})
    return radius


def station_along(station: GNSSStation, direction: tuple[float, float, float]) -> tuple:
    """(velocity, std) of the station along a unit vector (east, north, up); std None when
    the station has no stds."""
    velocities = (station.velocity_east, station.velocity_north, station.velocity_up)
    stds = (station.velocity_east_std, station.velocity_north_std, station.velocity_up_std)
    value = sum(v * d for v, d in zip(velocities, direction, strict=True))
    if any(s is None for s, d in zip(stds, direction, strict=True) if d):
        return value, None
    return value, math.sqrt(sum((s * d) ** 2 for s, d in zip(stds, direction, strict=True) if d))


def around(queryset, station: GNSSStation, radius_m: float):
    """The points within radius_m metres: a degree box (index) first, then the distance."""
    lat = station.geom.y
    half_lat = radius_m / METRES_PER_DEGREE
    half_lon = half_lat / max(math.cos(math.radians(lat)), 0.01)
    x = station.geom.x
    box = Polygon.from_bbox((x - half_lon, lat - half_lat, x + half_lon, lat + half_lat))
    box.srid = 4326
    return queryset.filter(geom__intersects=box, velocity__isnull=False).filter(
        geom__distance_lte=(station.geom, D(m=radius_m))
    )


def rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@extend_schema(
    parameters=[
        OpenApiParameter("dataset", str, required=True, description="dataset slug"),
        OpenApiParameter("radius_m", float, description=f"metres (default {DEFAULT_RADIUS_M:.0f})"),
    ],
    responses={200: OpenApiTypes.OBJECT, **error_responses(403, 404)},
    summary="A GNSS station's velocity in a layer's direction against the points around it",
)
@api_view(["GET"])
def gnss_compare(request: Request, network: str, code: str) -> Response:
    slug = request.query_params.get("dataset", "")
    if not slug:
        raise ValidationError({"dataset": "give the slug of the layer to compare with"})
    radius_m = radius_from(request)
    dataset, _ = access.get_dataset_for_user(request.user, slug)
    access.require_points(request.user, dataset)
    station = get_object_or_404(
        GNSSStation.objects.select_related("network"), network__slug=network, code=code
    )
    stats = around(access.visible_points(request.user, dataset), station, radius_m).aggregate(
        count=Count("id"),
        mean=Avg("velocity"),
        spread=StdDev("velocity", sample=True),
        los_east=Avg("los_east"),
        los_north=Avg("los_north"),
        los_up=Avg("los_up"),
    )
    words = quantity(dataset)
    if dataset.component == Component.UP_DOWN:
        direction = (0.0, 0.0, 1.0)
    elif dataset.component == Component.EAST_WEST:
        direction = (1.0, 0.0, 0.0)
    elif stats["los_east"] is not None:
        vector = (stats["los_east"], stats["los_north"] or 0.0, stats["los_up"] or 0.0)
        norm = math.sqrt(sum(c * c for c in vector)) or 1.0
        direction = tuple(c / norm for c in vector)
    else:
        direction = None  # no points with a LOS vector: no direction to project on
    station_velocity, station_std = station_along(station, direction) if direction else (None, None)
    count, mean, spread = stats["count"], stats["mean"], stats["spread"]
    standard_error = spread / math.sqrt(count) if spread is not None and count > 1 else None
    difference = None if mean is None or station_velocity is None else mean - station_velocity
    combined = None
    if difference is not None and standard_error is not None and station_std is not None:
        combined = math.sqrt(standard_error**2 + station_std**2)
    return Response(
        {
            "station": {
                "code": station.code,
                "network": station.network.slug,
                "reference_frame": station.network.reference_frame,
            },
            "dataset": dataset.slug,
            "quantity": words,
            "radius_m": radius_m,
            "direction_enu": [round(c, 4) for c in direction] if direction else None,
            "station_velocity": rounded(station_velocity),
            "station_velocity_std": rounded(station_std),
            "points": {
                "count": count,
                "mean_velocity": rounded(mean),
                "velocity_spread": rounded(spread),
                "mean_standard_error": rounded(standard_error),
            },
            "difference": rounded(difference),
            "difference_std": rounded(combined),
            "note": (
                "L2a velocities are relative to the dataset's reference point: compare "
                "differences between stations, not the values."
                if dataset.level == Level.L2A
                else ""
            ),
            "units": "mm/yr",
        }
    )
