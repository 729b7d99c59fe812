"""API views: short function views. Every one starts with a call into groundmotion/access.py.

Units: displacement mm, velocity mm/yr, coordinates WGS84 degrees. Signs follow the dataset's
quantity (groundmotion/quantities.py): LOS towards the satellite, east, or up.
"""

from __future__ import annotations

import csv
import io

import numpy as np
from django.db.models import F, FloatField, Func
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from groundmotion import access
from groundmotion.api import areas, filters, plots, series
from groundmotion.api.openapi import (
    ANALYSIS_PARAMETERS,
    AREA_REQUEST,
    NUMBER_OR_EMPTY,
    error_responses,
)
from groundmotion.api.point_analysis import PointView, point_view
from groundmotion.models import CornerReflector, Dataset, GNSSStation, PointSeries
from groundmotion.quantities import SIGN_CONVENTIONS, quantity
from groundmotion.storage import point_ids, series_codec
from groundmotion.storage.tables import POINT_FLOAT_COLUMNS
from groundmotion.validation import gnss_validation

POINT_LIST_LIMIT = 10_000
AREA_POINT_LIMIT = 500_000


class Longitude(Func):
    function = "ST_X"
    output_field = FloatField()


class Latitude(Func):
    function = "ST_Y"
    output_field = FloatField()


@extend_schema(
    responses={200: OpenApiTypes.OBJECT, **error_responses()}, summary="Datasets the user may see"
)
@api_view(["GET"])
def datasets(request: Request) -> Response:
    visible = access.visible_datasets(request.user).order_by("slug")
    items = [dataset_item(request.user, dataset) for dataset in visible]
    return Response({"datasets": items, "sign_convention": SIGN_CONVENTIONS})


def dataset_item(user: access.AnyUser, dataset: Dataset) -> dict:
    """What the list and the detail say of a dataset the user may see (counts and extent of
    the points they may see)."""
    item = dict(dataset.to_dict())
    item["sees_points"] = access.sees_points(user, dataset)
    item["quantity"] = quantity(dataset)
    count, extent = access.visible_summary(user, dataset)
    item["point_count"], item["extent"] = count, list(extent) if extent else None
    item["tiles"] = f"/tiles/{dataset.slug}/{{z}}/{{x}}/{{y}}.pbf"
    return item


@extend_schema(
    operation_id="api_dataset_retrieve",
    responses={200: OpenApiTypes.OBJECT, **error_responses(404)},
    summary="One dataset; an L2b calibrated here has its GNSS validation (leave one station out)",
)
@api_view(["GET"])
def dataset_detail(request: Request, slug: str) -> Response:
    dataset, _ = access.get_dataset_for_user(request.user, slug)
    item = dataset_item(request.user, dataset)
    rows = access.sees_station_ties(request.user, dataset)
    item["gnss_validation"] = gnss_validation(dataset, with_stations=rows)
    return Response(item)


@extend_schema(
    parameters=[
        OpenApiParameter("in_bbox", str, description="min lon, min lat, max lon, max lat"),
        OpenApiParameter("velocity_min", NUMBER_OR_EMPTY, description="mm/yr"),
        OpenApiParameter("velocity_max", NUMBER_OR_EMPTY, description="mm/yr"),
        OpenApiParameter("coherence_min", NUMBER_OR_EMPTY, description="0..1"),
        OpenApiParameter("pid", str, description="exact point id"),
    ],
    responses={200: OpenApiTypes.OBJECT, **error_responses(403, 404)},
    summary="Points of a dataset in a box, with filters (at most 10,000)",
)
@api_view(["GET"])
def points(request: Request, slug: str) -> Response:
    dataset, _ = access.get_dataset_for_user(request.user, slug)
    access.require_points(request.user, dataset)
    selected = filters.filter_points(access.visible_points(request.user, dataset), request)
    rows = list(
        selected.annotate(
            lon=Longitude("geom"), lat=Latitude("geom"), coherence=F("temporal_coherence")
        )
        .values("id", "pid", "lon", "lat", "velocity", "coherence")
        .order_by("id")[: POINT_LIST_LIMIT + 1]
    )
    return Response(
        {
            "dataset": dataset.slug,
            "count": min(len(rows), POINT_LIST_LIMIT),
            "truncated": len(rows) > POINT_LIST_LIMIT,
            "points": rows[:POINT_LIST_LIMIT],
        }
    )


def point_with_series(request: Request, point_id: int) -> tuple:
    """(point, dataset, displacements mm as float64 with NaN for missing values)."""
    point, dataset = access.point_for_user(request.user, point_id, with_series=True)
    values = np.full(len(dataset.acquisition_dates), np.nan)
    try:
        chunk = point.series.displacements
    except PointSeries.DoesNotExist:
        chunk = None
    if chunk is not None:
        values = series_codec.decode(chunk).astype(np.float64)
    return point, dataset, values


def analysed_point(request: Request, point_id: int) -> tuple:
    """(point, dataset, PointView): the series minus the asked reference, with its period."""
    point, dataset, values = point_with_series(request, point_id)
    view = point_view(request.user, dataset, values, point.velocity, request.query_params)
    return point, dataset, view


@extend_schema(
    parameters=ANALYSIS_PARAMETERS,
    responses={200: OpenApiTypes.OBJECT, **error_responses(404)},
    summary="One point with its series and fitted model (optionally re-referenced, with a "
    "period velocity)",
)
@api_view(["GET"])
def point_detail(request: Request, point_id: int) -> Response:
    point, dataset, view = analysed_point(request, point_id)
    dates = dataset.acquisition_dates
    words = quantity(dataset)
    body = {
        "id": point.pk,
        "pid": point.pid,
        "dataset": dataset.slug,
        "lon": point.geom.x,
        "lat": point.geom.y,
        **{name: getattr(point, name) for name in POINT_FLOAT_COLUMNS},
        "dates": series.date_axis(tuple(dates))[0],
        "displacements": series.json_floats(view.values),
        "model": series.fit_model(dates, view.values),
        "period": view.period,
        "reference": view.reference_body,
        "units": {"displacements": "mm", "velocity": "mm/yr", "height": "m"},
        "quantity": words,
        "sign_convention": words["sign_convention"],
    }
    return Response(body)


def plot_title(point, dataset, view: PointView) -> str:
    velocity = "n/a" if point.velocity is None else f"{point.velocity:.2f} mm/yr"
    if view.period:
        period = view.period
        velocity = f"{period['velocity']} ± {period['velocity_std']} mm/yr over the period"
    elif view.reference_body:
        velocity = f"{view.reference_body['relative_velocity']} mm/yr"
    title = f"{point.pid} — {dataset.name} — velocity {velocity}"
    if view.reference_body:
        title += f"\nrelative to {view.reference_body['label']}"
    return title


def plot_response(request: Request, point_id: int, image_format: str) -> HttpResponse:
    point, dataset, view = analysed_point(request, point_id)
    dates = dataset.acquisition_dates
    image = plots.point_plot(
        title=plot_title(point, dataset, view),
        quantity=quantity(dataset),
        dates=dates,
        displacements=view.values,
        model=series.fit_model(dates, view.values),
        image_format=image_format,
        period=view.use,
    )
    return HttpResponse(image, content_type=plots.CONTENT_TYPES[image_format])


@extend_schema(
    parameters=ANALYSIS_PARAMETERS,
    responses={(200, "image/png"): OpenApiTypes.BINARY, **error_responses(404)},
    summary="Series plot (PNG)",
)
@api_view(["GET"])
def point_plot_png(request: Request, point_id: int) -> HttpResponse:
    return plot_response(request, point_id, "png")


@extend_schema(
    parameters=ANALYSIS_PARAMETERS,
    responses={(200, "image/svg+xml"): OpenApiTypes.STR, **error_responses(404)},
    summary="Series plot (SVG)",
)
@api_view(["GET"])
def point_plot_svg(request: Request, point_id: int) -> HttpResponse:
    return plot_response(request, point_id, "svg")


@extend_schema(
    parameters=ANALYSIS_PARAMETERS,
    responses={(200, "text/csv"): OpenApiTypes.STR, **error_responses(404)},
    summary="Series as CSV (with reference_mm and in_period columns when asked)",
)
@api_view(["GET"])
def point_series_csv(request: Request, point_id: int) -> HttpResponse:
    point, dataset, view = analysed_point(request, point_id)
    words = quantity(dataset)
    dates = dataset.acquisition_dates
    model = series.fit_model(dates, view.values)
    buffer = io.StringIO()
    buffer.write(f"# point {point.pid} of dataset {dataset.name} ({dataset.slug})\n")
    buffer.write(f"# {words['short']} displacement, mm (+ {words['positive']})")
    buffer.write(f": {words['sign_convention']}\n")
    for line in view.comment_lines():
        buffer.write(f"# {line}\n")
    buffer.write(f"# model: {model['terms'] if model else 'too few dates to fit'}")
    buffer.write("; model_std_mm is the residual std of the fit\n")
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["date", f"{words['column']}_mm", "model_mm", "model_std_mm"]
    extra = []
    if view.reference is not None:
        header.append("reference_mm")
        extra.append(series.json_floats(view.reference.series))
    if view.use is not None:
        header.append("in_period")
        extra.append([int(kept) for kept in view.use])
    writer.writerow(header)
    fitted = model["fitted"] if model else [None] * len(dates)
    spread = round(model["residual_std_mm"], 3) if model else ""
    columns = zip(dates, series.json_floats(view.values), fitted, *extra, strict=True)
    for date, value, line, *more in columns:
        cells = ["" if cell is None else cell for cell in more]
        writer.writerow([date.isoformat(), "" if value is None else value, line, spread, *cells])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{point.pid}.csv"'
    return response


@extend_schema(
    request={"application/json": AREA_REQUEST},
    parameters=[
        OpenApiParameter(
            "output", str, enum=["json", "csv"], description="csv: date,mean_mm,std_mm,count"
        )
    ],
    responses={
        (200, "application/json"): OpenApiTypes.OBJECT,
        (200, "text/csv"): OpenApiTypes.STR,
        **error_responses(403, 404, 415),
    },
    summary="Mean series of the points inside a GeoJSON polygon, with its std and count per date",
)
@api_view(["POST"])
def area_mean(request: Request) -> Response | HttpResponse:
    output = request.query_params.get("output") or "json"
    if output not in ("json", "csv"):
        return Response({"output": "expected json or csv"}, status=400)
    slug, polygon = filters.area_request(request.data)
    dataset, _ = access.get_dataset_for_user(request.user, slug)
    access.require_points(request.user, dataset)
    inside = access.visible_points(request.user, dataset).filter(geom__intersects=polygon)
    chunks = PointSeries.objects.filter(
        point_ids.series_of(dataset.pk), point__in=inside.values("pk")
    )
    stored = list(chunks.values_list("displacements", "point__velocity")[: AREA_POINT_LIMIT + 1])
    if len(stored) > AREA_POINT_LIMIT:
        return Response(
            {"detail": f"more than {AREA_POINT_LIMIT} points: draw a smaller area"}, status=400
        )
    matrix = series_codec.decode_many([row[0] for row in stored], len(dataset.acquisition_dates))
    velocities = np.array([np.nan if row[1] is None else row[1] for row in stored], dtype=float)
    body = areas.summary(dataset, matrix, velocities)
    if output == "json":
        return Response(body)
    response = HttpResponse(areas.csv_text(body), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{dataset.slug}-area-mean.csv"'
    return response


def feature(geometry: object, properties: dict) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(geometry.x, 6), round(geometry.y, 6)]},
        "properties": properties,
    }


@extend_schema(
    parameters=[
        OpenApiParameter(
            "bbox", str, description="min lon, min lat, max lon, max lat: only the stations inside"
        )
    ],
    responses={200: OpenApiTypes.OBJECT, **error_responses()},
    summary="GNSS stations (GeoJSON, mm/yr; height m); their series: .../series/",
)
@api_view(["GET"])
def gnss_stations(request: Request) -> Response:
    stations = GNSSStation.objects.select_related("network").order_by("network__slug", "code")
    if request.query_params.get("bbox"):
        try:
            box = filters.parse_bbox(request.query_params["bbox"])
        except ValidationError as error:
            raise ValidationError({"bbox": error.detail["in_bbox"]}) from None
        stations = stations.filter(geom__intersects=box)
    fields = (
        "velocity_east",
        "velocity_north",
        "velocity_up",
        "velocity_east_std",
        "velocity_north_std",
        "velocity_up_std",
        "height",
    )
    features = [
        feature(
            station.geom,
            {
                "code": station.code,
                "network": station.network.slug,
                "network_name": station.network.name,
                "reference_frame": station.network.reference_frame,
                "series": False,  # stations carry velocities only: no GNSS series is stored
                **{name: getattr(station, name) for name in fields},
            },
        )
        for station in stations
    ]
    return Response({"type": "FeatureCollection", "features": features})


@extend_schema(
    responses={200: OpenApiTypes.OBJECT, **error_responses()}, summary="Corner reflectors (GeoJSON)"
)
@api_view(["GET"])
def reflectors(request: Request) -> Response:
    fields = (
        "apex_height",
        "leg_length",
        "boresight_azimuth",
        "boresight_elevation",
        "facing_orbits",
    )
    features = [
        feature(
            reflector.geom,
            {
                "code": reflector.code,
                "install_date": reflector.install_date and reflector.install_date.isoformat(),
                **{name: getattr(reflector, name) for name in fields},
            },
        )
        for reflector in CornerReflector.objects.order_by("code")
    ]
    return Response({"type": "FeatureCollection", "features": features})
