"""A GNSS station's position series against the mean series of a layer's points around it.

The station's east, north, up series (mm, groundmotion.models.GNSSSeries) is taken in the
layer's direction, as groundmotion/api/compare.py takes its velocity: up for up-down, east for
east-west, and for line-of-sight layers along the mean LOS unit vector (ground towards
satellite) of the points around it. It is then sampled at the dataset's acquisition dates
(the station day nearest each, if within MAX_GAP_DAYS, else null) and shifted onto the points'
mean by their mean difference over the common dates: InSAR and GNSS series have different
origins, and only their changes compare. Why not match the first common date: one noisy day
would then offset the whole curve and inflate the RMSE (a few mm on the demo); the mean
difference is the least-squares offset, and the RMSE is then the spread of the difference.
"""

from __future__ import annotations

import datetime
import math

import numpy as np
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from groundmotion import access
from groundmotion.analysis import AnalysisError, parse_analysis, resolve_reference
from groundmotion.api.compare import DEFAULT_RADIUS_M, around, radius_from
from groundmotion.api.openapi import error_responses
from groundmotion.api.series import json_floats
from groundmotion.models import Component, Dataset, GNSSSeries, GNSSStation, Level, PointSeries
from groundmotion.quantities import quantity
from groundmotion.storage import point_ids, series_codec

MAX_GAP_DAYS = 6
MAX_POINTS = 50_000
UP = np.array([0.0, 0.0, 1.0])
EAST = np.array([1.0, 0.0, 0.0])


def layer_direction(component: str, look_vectors: np.ndarray) -> np.ndarray | None:
    """Unit (east, north, up) vector of the layer: up, east, or the normalised mean of the
    points' LOS vectors (rows, NaN where a point has none); None when no point has one."""
    if component == Component.UP_DOWN:
        return UP
    if component == Component.EAST_WEST:
        return EAST
    known = look_vectors[np.isfinite(look_vectors[:, 0])] if len(look_vectors) else look_vectors
    if not len(known):
        return None
    mean = np.nan_to_num(known, nan=0.0).mean(axis=0)
    norm = np.linalg.norm(mean)
    return mean / norm if norm > 0 else None


def sample_at(
    station_dates: list[datetime.date], values: np.ndarray, dates: list[datetime.date]
) -> np.ndarray:
    """values (one per station date, sorted) at each of `dates`: the nearest station day (the
    earlier one on a tie) if at most MAX_GAP_DAYS away, else NaN."""
    days = np.array([d.toordinal() for d in station_dates], dtype=np.int64)
    wanted = np.array([d.toordinal() for d in dates], dtype=np.int64)
    after = np.clip(np.searchsorted(days, wanted), 0, len(days) - 1)
    before = np.clip(after - 1, 0, len(days) - 1)
    nearest = np.where(np.abs(wanted - days[before]) <= np.abs(days[after] - wanted), before, after)
    sampled = np.asarray(values, dtype=np.float64)[nearest]
    return np.where(np.abs(days[nearest] - wanted) <= MAX_GAP_DAYS, sampled, np.nan)


def aligned(station: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, float | None]:
    """(station shifted onto `mean` by their mean difference over the common dates, the shift
    mm): the least-squares offset between the two."""
    common = np.isfinite(station) & np.isfinite(mean)
    if not common.any():
        return station, None
    shift = float(np.mean(mean[common] - station[common]))
    return station + shift, shift


def difference_stats(station: np.ndarray, mean: np.ndarray) -> tuple[float | None, float | None]:
    """(RMSE, mean) of mean - station over the dates both have, mm."""
    difference = (mean - station)[np.isfinite(station) & np.isfinite(mean)]
    if not len(difference):
        return None, None
    return float(np.sqrt(np.mean(difference**2))), float(difference.mean())


def points_around(user, dataset: Dataset, station: GNSSStation, radius_m: float) -> tuple:
    """(series matrix points x dates mm, look vectors points x 3) of the visible points."""
    inside = around(access.visible_points(user, dataset), station, radius_m)
    series = PointSeries.objects.filter(
        point_ids.series_of(dataset.pk), point__in=inside.values("pk")
    )
    columns = ("displacements", "point__los_east", "point__los_north", "point__los_up")
    rows = list(series.values_list(*columns)[: MAX_POINTS + 1])
    if len(rows) > MAX_POINTS:
        raise ValidationError({"radius_m": f"over {MAX_POINTS} points within it: make it smaller"})
    matrix = series_codec.decode_many([row[0] for row in rows], len(dataset.acquisition_dates))
    looks = np.array([row[1:] for row in rows], dtype=np.float64).reshape(len(rows), 3)
    return matrix.astype(np.float64), looks


def mean_series(matrix: np.ndarray) -> np.ndarray:
    """Mean over points per date, NaN where no point has a value."""
    counts = np.isfinite(matrix).sum(axis=0)
    mean = np.full(matrix.shape[1], np.nan)
    np.divide(np.nansum(matrix, axis=0), counts, out=mean, where=counts > 0)
    return mean


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def station_body(station: GNSSStation, stored: GNSSSeries) -> dict:
    return {
        "code": station.code,
        "network": station.network.slug,
        "reference_frame": station.network.reference_frame,
        "lon": round(station.geom.x, 6),
        "lat": round(station.geom.y, 6),
        "first_date": stored.dates[0].isoformat(),
        "last_date": stored.dates[-1].isoformat(),
        "days": len(stored.dates),
        "source": stored.source,
    }


def request_parts(request: Request, network: str, code: str) -> tuple:
    """(dataset, station, stored series, radius, analysis) after the access checks."""
    slug = request.query_params.get("dataset", "")
    if not slug:
        raise ValidationError({"dataset": "give the slug of the layer to compare with"})
    radius_m = radius_from(request)
    try:
        analysis = parse_analysis(request.query_params)
    except AnalysisError as error:
        raise ValidationError(error.as_dict()) from None
    dataset, _ = access.get_dataset_for_user(request.user, slug)
    access.require_points(request.user, dataset)
    station = get_object_or_404(
        GNSSStation.objects.select_related("network"), network__slug=network, code=code
    )
    stored = get_object_or_404(GNSSSeries, station=station)
    return dataset, station, stored, radius_m, analysis


@extend_schema(
    parameters=[
        OpenApiParameter("dataset", str, required=True, description="dataset slug"),
        OpenApiParameter("radius_m", float, description=f"metres (default {DEFAULT_RADIUS_M:.0f})"),
        OpenApiParameter("reference", int, description="point id: the mean minus its series"),
        OpenApiParameter("reference_area", str, description="WKT polygon: minus its mean"),
    ],
    responses={200: OpenApiTypes.OBJECT, **error_responses(403, 404)},
    summary="A GNSS station's series in a layer's direction against the points' mean series",
)
@api_view(["GET"])
def gnss_series(request: Request, network: str, code: str) -> Response:
    dataset, station, stored, radius_m, analysis = request_parts(request, network, code)
    try:
        reference = resolve_reference(request.user, dataset, analysis)
    except AnalysisError as error:
        raise ValidationError(error.as_dict()) from None
    matrix, looks = points_around(request.user, dataset, station, radius_m)
    mean = mean_series(matrix)
    if reference is not None:
        mean = mean - reference.series
    direction = layer_direction(dataset.component, looks)
    dates = dataset.acquisition_dates
    projected = np.full(len(dates), np.nan)
    if direction is not None:
        enu = np.array([stored.east, stored.north, stored.up], dtype=np.float64)
        projected = sample_at(stored.dates, direction @ enu, dates)
    station_series, shift = aligned(projected, mean)
    rmse, mean_difference = difference_stats(station_series, mean)
    words = quantity(dataset)
    return Response(
        {
            "station": station_body(station, stored),
            "dataset": dataset.slug,
            "quantity": words,
            "radius_m": radius_m,
            "dates": [date.isoformat() for date in dates],
            "station_series": json_floats(station_series),
            "points_mean": json_floats(mean),
            "points_count": int(matrix.shape[0]),
            "common_count": int((np.isfinite(station_series) & np.isfinite(mean)).sum()),
            "shift_mm": rounded(shift),
            "difference_rmse_mm": rounded(rmse),
            "difference_mean_mm": rounded(mean_difference),
            "direction": None
            if direction is None
            else dict(zip(("east", "north", "up"), np.round(direction, 4).tolist(), strict=True)),
            "reference": None
            if reference is None
            else {"label": reference.label, "point_id": reference.point_id},
            "note": (
                "L2a series are relative to the dataset's reference point: compare the "
                "changes in shape, not a trend common to the whole layer."
                if dataset.level == Level.L2A
                else ""
            ),
            "units": "mm",
        }
    )
