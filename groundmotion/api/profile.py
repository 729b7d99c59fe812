"""`POST /api/profile/`: the points of a swath along a drawn line, ordered by distance.

A point belongs to the profile when it lies within width/2 of the line on the ground, in the
flat-ended strip along it (shapely's buffer with flat caps). Distances are measured in an
azimuthal equidistant projection centred on the line (scale error below 1e-5 within the 25 km
a 50 km line reaches): `distance` along the line from its first vertex and `offset` across it,
left of the drawing direction positive, both metres. Velocities mm/yr: the stored one, or the
period's straight-line slope, minus the reference's (groundmotion/analysis.py).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from pyproj import Geod, Transformer
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from groundmotion import access
from groundmotion.access import AnyUser
from groundmotion.analysis import (
    Analysis,
    AnalysisError,
    Reference,
    dataset_years,
    parse_analysis,
    period_mask,
    resolve_reference,
)
from groundmotion.api.openapi import PROFILE_REQUEST, error_responses
from groundmotion.api.point_analysis import period_dates, raise_as_400, reference_body
from groundmotion.api.views import Latitude, Longitude
from groundmotion.models import Dataset, PointSeries
from groundmotion.quantities import quantity
from groundmotion.storage import series_codec
from processing.kernels.analysis import period_velocity

MAX_VERTICES = 1000
MAX_LENGTH_M = 50_000.0
MAX_WIDTH_M = 2000.0
MAX_POINTS = 50_000
FORMATS = ("json", "csv", "png")
ANALYSIS_FIELDS = ("start", "end", "reference", "reference_area")
GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Swath:
    """The line in its local projection, with the transformers to and from WGS84."""

    line: shapely.LineString  # metres
    forward: Transformer  # lon, lat -> x, y
    backward: Transformer
    width_m: float
    length_m: float  # geodesic length on the ellipsoid

    def strip(self) -> shapely.Polygon:
        return self.line.buffer(self.width_m / 2, cap_style="flat")


def bad(field: str, message: str) -> ValidationError:
    return ValidationError({field: message})


def parse_vertices(line: object) -> np.ndarray:
    """(k, 2) lon, lat of a GeoJSON LineString (a Feature holding one is accepted too)."""
    if isinstance(line, dict) and line.get("type") == "Feature":
        line = line.get("geometry")
    if not isinstance(line, dict) or line.get("type") != "LineString":
        raise bad("line", "a GeoJSON LineString: {type: LineString, coordinates: [[lon, lat], …]}")
    coordinates = line.get("coordinates")
    if not isinstance(coordinates, list) or not 2 <= len(coordinates) <= MAX_VERTICES:
        raise bad("line", f"a LineString has 2 to {MAX_VERTICES} vertices")
    vertices = []
    for vertex in coordinates:
        if (
            not isinstance(vertex, list)
            or len(vertex) not in (2, 3)
            or not all(
                isinstance(value, int | float) and not isinstance(value, bool) for value in vertex
            )
        ):
            raise bad("line", "each vertex is [lon, lat] in degrees")
        vertices.append([float(vertex[0]), float(vertex[1])])
    array = np.array(vertices)
    if not np.isfinite(array).all() or (np.abs(array[:, 0]) > 180).any():
        raise bad("line", "each vertex is [lon, lat] in degrees")
    if (np.abs(array[:, 1]) > 85).any():
        raise bad("line", "latitudes within ±85°")
    return array


def parse_width(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise bad("width", f"a width in metres, over 0 and at most {MAX_WIDTH_M:.0f}")
    try:
        width = float(value)
    except ValueError:
        raise bad("width", f"a width in metres, over 0 and at most {MAX_WIDTH_M:.0f}") from None
    if not (math.isfinite(width) and 0 < width <= MAX_WIDTH_M):
        raise bad("width", f"a width in metres, over 0 and at most {MAX_WIDTH_M:.0f}")
    return width


def make_swath(vertices: np.ndarray, width_m: float) -> Swath:
    length_m = float(GEOD.line_length(vertices[:, 0], vertices[:, 1]))
    if length_m <= 0:
        raise bad("line", "the line has no length")
    if length_m > MAX_LENGTH_M:
        raise bad("line", f"{length_m / 1000:.1f} km is over the {MAX_LENGTH_M / 1000:.0f} km")
    # Centre of the line's extent, on the line's side of the antimeridian.
    lon0 = (vertices[:, 0].min() + vertices[:, 0].max()) / 2
    lat0 = (vertices[:, 1].min() + vertices[:, 1].max()) / 2
    local = f"+proj=aeqd +lat_0={lat0:.8f} +lon_0={lon0:.8f} +datum=WGS84 +units=m +no_defs"
    forward = Transformer.from_crs("EPSG:4326", local, always_xy=True)
    backward = Transformer.from_crs(local, "EPSG:4326", always_xy=True)
    x, y = forward.transform(vertices[:, 0], vertices[:, 1])
    line = shapely.LineString(np.column_stack([x, y]))
    if not line.is_simple:
        raise bad("line", "the line crosses itself: a profile needs a line that does not")
    return Swath(line, forward, backward, width_m, length_m)


def search_area(swath: Swath) -> GEOSGeometry:
    """A metre more than the strip all round (round ends: a superset), edges densified, in
    WGS84, for the index search."""
    wider = swath.line.buffer(swath.width_m / 2 + 1.0)
    dense = shapely.segmentize(wider, 200.0)
    ring = np.asarray(dense.exterior.coords)
    lon, lat = swath.backward.transform(ring[:, 0], ring[:, 1])
    polygon = shapely.Polygon(np.column_stack([lon, lat]))
    return GEOSGeometry(polygon.wkt, srid=4326)


def locate(swath: Swath, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, ...]:
    """(inside, distance along, signed offset) in metres of the points; left is positive."""
    x, y = swath.forward.transform(lon, lat)
    points = shapely.points(x, y)
    inside = shapely.covers(swath.strip(), points)
    distance = shapely.line_locate_point(swath.line, points)
    vertices = np.asarray(swath.line.coords)
    steps = np.diff(vertices, axis=0)
    ends = np.cumsum(np.hypot(steps[:, 0], steps[:, 1]))
    segment = np.minimum(np.searchsorted(ends, distance), len(steps) - 1)
    tangent, start = steps[segment], vertices[segment]
    # The side of the nearest segment: the sign of its tangent crossed with the point.
    across = tangent[:, 0] * (y - start[:, 1]) - tangent[:, 1] * (x - start[:, 0])
    offset = np.sign(across) * shapely.distance(swath.line, points)
    return inside, distance, offset


def read_series(ids: list[int], date_count: int) -> np.ndarray:
    """Stored series of the points, in the order of ids (NaN rows where none is stored)."""
    stored = dict(
        PointSeries.objects.filter(point_id__in=ids).values_list("point_id", "displacements")
    )
    matrix = np.full((len(ids), date_count), np.nan, dtype=np.float32)
    present = [index for index, point_id in enumerate(ids) if point_id in stored]
    if present:
        rows = [stored[ids[index]] for index in present]
        matrix[present] = series_codec.decode_many(rows, date_count)
    return matrix


def velocities(
    dataset: Dataset,
    rows: list[tuple],
    use: np.ndarray | None,
    reference: Reference | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(velocity, std) mm/yr of the rows: stored, or the period's slope; minus the reference."""
    stored = np.array([np.nan if row[5] is None else row[5] for row in rows], dtype=np.float64)
    stds = np.array([np.nan if row[6] is None else row[6] for row in rows], dtype=np.float64)
    if use is None:
        if reference is not None:
            stored = stored - reference.velocity
        return stored, stds
    matrix = read_series([row[0] for row in rows], len(dataset.acquisition_dates))
    values = matrix.astype(np.float64)
    if reference is not None:
        values -= reference.series[np.newaxis, :]
    velocity, std, _ = period_velocity(values, dataset_years(dataset), use)
    return velocity, std


def analysis_params(data: dict) -> dict[str, str]:
    params = {}
    for name in ANALYSIS_FIELDS:
        value = data.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise bad(name, "a string (a date as YYYY-MM-DD, a point id or WKT)")
        params[name] = str(value)
    return params


@dataclass(frozen=True)
class ProfileRequest:
    output: str
    slug: str
    vertices: np.ndarray
    width_m: float
    analysis: Analysis


def parse_request(data: object) -> ProfileRequest:
    """The body's fields, checked before any lookup: 400 naming the first bad one."""
    if not isinstance(data, dict):
        raise bad("detail", "a JSON object: {dataset, line, width, …}")
    output = data.get("format") or "json"
    if output not in FORMATS:
        raise bad("format", f"one of {', '.join(FORMATS)}")
    slug = data.get("dataset")
    if not isinstance(slug, str) or not slug or "\x00" in slug or len(slug) > 200:
        raise bad("dataset", "the dataset's slug")
    vertices = parse_vertices(data.get("line"))
    width = parse_width(data.get("width"))
    try:
        analysis = parse_analysis(analysis_params(data))
    except AnalysisError as error:
        raise_as_400(error)
    return ProfileRequest(output, slug, vertices, width, analysis)


def swath_rows(user: AnyUser, dataset: Dataset, swath: Swath) -> tuple[list[tuple], np.ndarray]:
    """The visible points in the strip, (id, pid, lon, lat, height, velocity, velocity_std,
    coherence) rows, with their (distance, offset) metres; 400 when there are too many."""
    candidates = access.visible_points(user, dataset).filter(geom__intersects=search_area(swath))
    rows = list(
        candidates.annotate(lon=Longitude("geom"), lat=Latitude("geom")).values_list(
            "id", "pid", "lon", "lat", "height", "velocity", "velocity_std", "temporal_coherence"
        )[: MAX_POINTS * 2 + 1]
    )
    lon = np.array([row[2] for row in rows], dtype=np.float64)
    lat = np.array([row[3] for row in rows], dtype=np.float64)
    inside, distance, offset = locate(swath, lon, lat)
    if inside.sum() > MAX_POINTS or len(rows) > MAX_POINTS * 2:
        raise bad(
            "width",
            f"over {MAX_POINTS} points in the swath: draw a shorter line or a narrower width",
        )
    keep = np.flatnonzero(inside)
    return [rows[index] for index in keep], np.column_stack([distance[keep], offset[keep]])


def column(values: list | np.ndarray, digits: int, order: np.ndarray) -> list[float | None]:
    """Rounded values in `order`, NaN and None as None: numpy does the rounding at once."""
    array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)[order]
    finite = np.isfinite(array)
    rounded_values = np.round(array, digits).tolist()
    if finite.all():
        return rounded_values
    return [value if known else None for value, known in zip(rounded_values, finite, strict=True)]


def point_dicts(
    rows: list[tuple],
    order: np.ndarray,
    distance: np.ndarray,
    offset: np.ndarray,
    velocity: np.ndarray,
    velocity_std: np.ndarray,
) -> list[dict]:
    """The profile's points, ordered by distance along the line."""
    columns = {
        "id": [rows[i][0] for i in order],
        "pid": [rows[i][1] for i in order],
        "distance": column(distance, 2, order),
        "offset": column(offset, 2, order),
        "velocity": column(velocity, 3, order),
        "velocity_std": column(velocity_std, 3, order),
        "height": column([row[4] for row in rows], 2, order),
        "coherence": column([row[7] for row in rows], 3, order),
        "lon": column([row[2] for row in rows], 7, order),
        "lat": column([row[3] for row in rows], 7, order),
    }
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def build(request: Request) -> dict:
    asked = parse_request(request.data)
    dataset, _ = access.get_dataset_for_user(request.user, asked.slug)
    access.require_points(request.user, dataset)
    swath = make_swath(asked.vertices, asked.width_m)
    try:
        use = period_mask(dataset, asked.analysis)
        reference = resolve_reference(request.user, dataset, asked.analysis)
    except AnalysisError as error:
        raise_as_400(error)
    rows, place = swath_rows(request.user, dataset, swath)
    velocity, velocity_std = velocities(dataset, rows, use, reference)
    distance, offset = place[:, 0], place[:, 1]
    order = np.lexsort(([row[0] for row in rows], distance)) if rows else np.empty(0, int)
    points = point_dicts(rows, order, distance, offset, velocity, velocity_std)
    return {
        "format": asked.output,
        "dataset": dataset.slug,
        "name": dataset.name,
        "count": len(points),
        "length_m": round(swath.length_m, 2),
        "width_m": asked.width_m,
        "period": None if use is None else period_dates(dataset, asked.analysis, use),
        "reference": reference_body(reference, None),
        "quantity": quantity(dataset),
        "points": points,
        "units": {
            "distance": "m",
            "offset": "m (left of the line positive)",
            "velocity": "mm/yr",
            "height": "m",
        },
    }


def csv_text(body: dict) -> str:
    buffer = io.StringIO()
    words = body["quantity"]
    buffer.write(f"# profile of {body['name']} ({body['dataset']}): {body['count']} points,")
    buffer.write(f" line {body['length_m']} m, width {body['width_m']} m\n")
    buffer.write(f"# {words['short']} velocity mm/yr (+ {words['positive']}); offset m, left +\n")
    if body["period"]:
        period = body["period"]
        buffer.write(
            f"# period {period['first_date']} to {period['last_date']}"
            f" ({period['count']} acquisitions): velocity is the straight-line slope\n"
        )
    if body["reference"]:
        buffer.write(f"# reference: {body['reference']['label']} (subtracted)\n")
    writer = csv.writer(buffer, lineterminator="\n")
    columns = [
        "distance",
        "offset",
        "id",
        "pid",
        "lon",
        "lat",
        "velocity",
        "velocity_std",
        "height",
        "coherence",
    ]
    writer.writerow(
        [
            "distance_m",
            "offset_m",
            "id",
            "pid",
            "lon",
            "lat",
            "velocity_mm_yr",
            "velocity_std_mm_yr",
            "height_m",
            "coherence",
        ]
    )
    for point in body["points"]:
        writer.writerow(["" if point[name] is None else point[name] for name in columns])
    return buffer.getvalue()


def png_image(body: dict) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    points = body["points"]
    distance = np.array([p["distance"] for p in points], dtype=float) / 1000
    velocity = np.array([np.nan if p["velocity"] is None else p["velocity"] for p in points])
    spread = np.array([np.nan if p["velocity_std"] is None else p["velocity_std"] for p in points])
    axes.errorbar(
        distance,
        velocity,
        yerr=np.nan_to_num(spread),
        fmt="o",
        markersize=3,
        elinewidth=0.5,
        color="#1f4e79",
        ecolor="#9bb7d4",
        label="velocity",
    )
    axes.set_xlabel("distance along the line, km")
    axes.set_ylabel(f"{body['quantity']['short']} velocity, mm/yr")
    axes.grid(alpha=0.3)
    heights = np.array([np.nan if p["height"] is None else p["height"] for p in points])
    if np.isfinite(heights).any():
        twin = axes.twinx()
        twin.plot(distance, heights, ".", color="#7f8c8d", markersize=2, label="height")
        twin.set_ylabel("height, m")
    title = f"{body['name']}: {body['count']} points within {body['width_m'] / 2:g} m of the line"
    if body["reference"]:
        title += f", relative to {body['reference']['label']}"
    axes.set_title(title, fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


@extend_schema(
    request={"application/json": PROFILE_REQUEST},
    responses={
        (200, "application/json"): OpenApiTypes.OBJECT,
        (200, "text/csv"): OpenApiTypes.STR,
        (200, "image/png"): OpenApiTypes.BINARY,
        **error_responses(403, 404, 415),
    },
    summary="Velocities of the points within width/2 of a line, by distance along it",
)
@api_view(["POST"])
def profile(request: Request) -> Response | HttpResponse:
    body = build(request)
    output = body.pop("format")
    if output == "csv":
        response = HttpResponse(csv_text(body), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{body["dataset"]}-profile.csv"'
        return response
    if output == "png":
        return HttpResponse(png_image(body), content_type="image/png")
    return Response(body)
