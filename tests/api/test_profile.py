"""POST /api/profile/: membership, distance and offset against shapely on a pyproj projection
of its own (transverse Mercator at the line's centre), order, velocities with a period and a
reference against np.polyfit, masks, access and limits."""

from __future__ import annotations

import csv
import datetime
import io
import json

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import MultiPolygon, Polygon
from pyproj import Transformer

from groundmotion import cells
from groundmotion.api import profile
from groundmotion.models import MaskedArea, PointSeries, Visibility
from groundmotion.storage import series_codec
from tests.factories import DATES, client_for, make_dataset

pytestmark = pytest.mark.django_db

YEARS = np.array([(d - DATES[0]).days / 365.25 for d in DATES])
# A bent line near Dax, about 4.9 km: east, then north-east.
LINE = [[-1.06, 43.70], [-1.03, 43.701], [-1.01, 43.715]]
WIDTH = 600.0


def reference_frame():
    centre_lon, centre_lat = -1.035, 43.7075
    local = f"+proj=tmerc +lat_0={centre_lat} +lon_0={centre_lon} +k=1 +datum=WGS84 +units=m"
    return Transformer.from_crs("EPSG:4326", local, always_xy=True)


@pytest.fixture
def swath_points():
    """400 points scattered around the line, with noisy trends and heights."""
    rng = np.random.default_rng(42)
    lon = rng.uniform(-1.065, -1.005, 400)
    lat = rng.uniform(43.694, 43.721, 400)
    velocity = rng.uniform(-10, 10, 400)
    series = velocity[:, None] * YEARS + rng.normal(0, 1.0, (400, len(YEARS)))
    dataset = make_dataset("swath", lon=lon, lat=lat, velocity=velocity, series=series)
    return dataset, lon, lat


def post(body: dict, user=None):
    return client_for(user).post("/api/profile/", json.dumps(body), content_type="application/json")


def expected(lon: np.ndarray, lat: np.ndarray, width: float = WIDTH):
    """(inside, distance, signed offset, margin) by shapely in the test's own projection."""
    forward = reference_frame()
    line = shapely.LineString(np.column_stack(forward.transform(*np.array(LINE).T)))
    x, y = forward.transform(lon, lat)
    points = shapely.points(x, y)
    strip = line.buffer(width / 2, cap_style="flat")
    inside = shapely.covers(strip, points)
    distance = shapely.line_locate_point(line, points)
    offset = shapely.distance(line, points)
    # Sign: left of the nearest segment's direction.
    coords = np.asarray(line.coords)
    sign = np.zeros(len(lon))
    for index, point in enumerate(zip(x, y, strict=True)):
        gaps = [
            shapely.LineString(coords[i : i + 2]).distance(shapely.Point(point)) for i in (0, 1)
        ]
        a, b = coords[int(np.argmin(gaps))], coords[int(np.argmin(gaps)) + 1]
        sign[index] = np.sign((b[0] - a[0]) * (point[1] - a[1]) - (b[1] - a[1]) * (point[0] - a[0]))
    margin = shapely.distance(strip.exterior, points)
    return inside, distance, sign * offset, margin


def test_members_distance_and_offset_match_shapely_on_pyproj(swath_points):
    dataset, lon, lat = swath_points
    response = post(
        {
            "dataset": dataset.slug,
            "line": {"type": "LineString", "coordinates": LINE},
            "width": WIDTH,
        }
    )
    assert response.status_code == 200, response.content
    body = response.json()
    ids = list(dataset.points.order_by("pid").values_list("id", flat=True))
    inside, distance, offset, margin = expected(lon, lat)
    clear = margin > 1.0  # points within a metre of the edge may go either way
    found = {point["id"]: point for point in body["points"]}
    for index, point_id in enumerate(ids):
        if clear[index]:
            assert (point_id in found) == inside[index], index
        if point_id in found:
            assert found[point_id]["distance"] == pytest.approx(distance[index], abs=1.0)
            assert found[point_id]["offset"] == pytest.approx(offset[index], abs=1.0)
    assert inside.sum() > 50 and (~inside).sum() > 50
    offsets = np.array([point["offset"] for point in body["points"]])
    assert (offsets > 0).any() and (offsets < 0).any() and np.abs(offsets).max() <= WIDTH / 2
    distances = [point["distance"] for point in body["points"]]
    assert distances == sorted(distances)
    assert body["count"] == len(body["points"])
    geodesic = reference_frame()  # the line's length: within a metre of the projected one
    projected = shapely.LineString(np.column_stack(geodesic.transform(*np.array(LINE).T))).length
    assert body["length_m"] == pytest.approx(projected, abs=1.0)
    assert body["width_m"] == WIDTH and body["period"] is None and body["reference"] is None
    velocities = dict(dataset.points.values_list("id", "velocity"))
    for point in body["points"]:
        assert point["velocity"] == pytest.approx(velocities[point["id"]], abs=1e-3)


def stored(point_id: int) -> np.ndarray:
    return series_codec.decode(PointSeries.objects.get(point_id=point_id).displacements).astype(
        float
    )


def test_period_and_reference_velocities_match_polyfit(swath_points):
    dataset, _, _ = swath_points
    reference = dataset.points.order_by("pid").values_list("id", flat=True)[0]
    body = post(
        {
            "dataset": dataset.slug,
            "line": {"type": "LineString", "coordinates": LINE},
            "width": WIDTH,
            "start": "2022-02-01",
            "end": "2022-05-01",
            "reference": reference,
        }
    ).json()
    inside = np.array([datetime.date(2022, 2, 1) <= d <= datetime.date(2022, 5, 1) for d in DATES])
    base = stored(reference)
    assert body["period"]["count"] == inside.sum() and body["reference"]["point_id"] == reference
    for point in body["points"][:40]:
        slope = np.polyfit(YEARS[inside], (stored(point["id"]) - base)[inside], 1)[0]
        assert point["velocity"] == pytest.approx(slope, abs=2e-3)
    # A reference without a period: stored velocity minus the reference's.
    plain = post(
        {
            "dataset": dataset.slug,
            "line": {"type": "LineString", "coordinates": LINE},
            "width": WIDTH,
            "reference": str(reference),
        }
    ).json()
    velocities = dict(dataset.points.values_list("id", "velocity"))
    for point in plain["points"]:
        relative = velocities[point["id"]] - velocities[reference]
        assert point["velocity"] == pytest.approx(relative, abs=1e-3)


def test_csv_and_png(swath_points):
    dataset, _, _ = swath_points
    request = {
        "dataset": dataset.slug,
        "line": {"type": "LineString", "coordinates": LINE},
        "width": WIDTH,
    }
    text = post({**request, "format": "csv"}).content.decode()
    rows = list(
        csv.DictReader(io.StringIO("\n".join(row for row in text.splitlines() if row[:1] != "#")))
    )
    body = post(request).json()
    assert [int(row["id"]) for row in rows] == [point["id"] for point in body["points"]]
    assert list(rows[0])[:7] == [
        "distance_m",
        "offset_m",
        "id",
        "pid",
        "lon",
        "lat",
        "velocity_mm_yr",
    ]
    assert float(rows[0]["distance_m"]) == body["points"][0]["distance"]
    image = post({**request, "format": "png"})
    assert image["Content-Type"] == "image/png" and image.content[:4] == b"\x89PNG"


def test_masked_points_are_never_in_a_profile(swath_points, registered, curator):
    dataset, lon, lat = swath_points
    box = (-1.045, 43.695, -1.025, 43.71)
    square = Polygon.from_bbox(box)
    square.srid = 4326
    area = MaskedArea.objects.create(name="depot", geom=MultiPolygon(square), reason="x")
    area.datasets.set([dataset])
    cells.refresh_masked_datasets(area)
    ids = np.array(dataset.points.order_by("pid").values_list("id", flat=True))
    under = (lon > box[0]) & (lon < box[2]) & (lat > box[1]) & (lat < box[3])
    request = {
        "dataset": dataset.slug,
        "line": {"type": "LineString", "coordinates": LINE},
        "width": WIDTH,
    }
    for user in (None, registered, curator):
        found = {point["id"] for point in post(request, user).json()["points"]}
        assert found and not found & set(ids[under].tolist())
    inside = expected(lon, lat)[0]
    assert (inside & under).sum() > 5  # the mask did take points out of the swath


def test_restricted_is_404_for_others_and_reduced_403_for_anonymous(
    partners, member, outsider, registered
):
    restricted = make_dataset(
        "secret", visibility=Visibility.RESTRICTED, groups=[partners], lon=[-1.03], lat=[43.701]
    )
    request = {
        "dataset": "secret",
        "line": {"type": "LineString", "coordinates": LINE},
        "width": WIDTH,
    }
    assert post(request, member).json()["count"] == 1
    missing = post({**request, "dataset": "nowhere"}, outsider)
    for user in (outsider, None):
        response = post(request, user)
        assert response.status_code == 404
        assert response.content.replace(b"secret", b"x") == missing.content.replace(
            b"nowhere", b"x"
        )
    make_dataset("reduced", visibility=Visibility.REDUCED, lon=[-1.03], lat=[43.701])
    reduced = {**request, "dataset": "reduced"}
    assert post(reduced).status_code == 403
    assert post(reduced, registered).json()["count"] == 1
    assert restricted.slug == "secret"


def line_of(coordinates):
    return {"type": "LineString", "coordinates": coordinates}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"line": line_of([[-1.0, 43.7]])}, "line"),
        ({"line": line_of([[-1.0 + i * 1e-5, 43.7] for i in range(1001)])}, "line"),
        ({"line": line_of([[-1.0, 43.7], [-0.3, 43.7]])}, "line"),  # 56 km
        ({"line": line_of([[-1.0, 43.7], ["x", 43.7]])}, "line"),
        ({"line": line_of([[-1.0, 43.7], [-1.0, 43.7]])}, "line"),
        ({"line": {"type": "Polygon", "coordinates": []}}, "line"),
        ({"line": None}, "line"),
        ({"width": 0}, "width"),
        ({"width": -5}, "width"),
        ({"width": 2000.5}, "width"),
        ({"width": "wide"}, "width"),
        ({"width": None}, "width"),
        ({"format": "xls"}, "format"),
        ({"dataset": 5}, "dataset"),
        ({"start": "2022-13-01"}, "start"),
        ({"start": "2022-01-01", "end": "2022-01-07"}, "start"),
        ({"reference": "x"}, "reference"),
        ({"reference": [1]}, "reference"),
    ],
)
def test_limits_are_400_naming_the_field(swath_points, change, field):
    dataset, _, _ = swath_points
    request = {"dataset": dataset.slug, "line": line_of(LINE), "width": WIDTH, **change}
    response = post(request)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_the_largest_width_and_length_are_allowed(swath_points):
    dataset, _, _ = swath_points
    request = {
        "dataset": dataset.slug,
        "line": line_of([[-1.3, 43.7], [-0.7, 43.7]]),
        "width": 2000,
    }
    body = post(request).json()
    assert 48_000 < body["length_m"] < 50_000


def test_too_many_points_is_400(swath_points, monkeypatch):
    dataset, _, _ = swath_points
    monkeypatch.setattr(profile, "MAX_POINTS", 10)
    response = post({"dataset": dataset.slug, "line": line_of(LINE), "width": WIDTH})
    assert response.status_code == 400 and "points" in json.dumps(response.json())


def test_a_body_that_is_not_an_object_is_400():
    response = client_for().post("/api/profile/", "[1, 2]", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("output", ["json", "csv", "png"])
def test_a_line_with_no_point_near_it(swath_points, output):
    dataset, _, _ = swath_points
    far = line_of([[-0.9, 43.8], [-0.89, 43.8]])
    response = post({"dataset": dataset.slug, "line": far, "width": 100, "format": output})
    assert response.status_code == 200
    if output == "json":
        assert response.json()["count"] == 0 and response.json()["points"] == []
