"""GET /api/gnss-stations/<network>/<code>/compare/: a station in a layer's direction against
the points around it, from the points the user may see."""

from __future__ import annotations

import math

import numpy as np
import pytest

from groundmotion.models import Dataset, GNSSStation, MaskedArea, MeasurementPoint, Visibility
from tests.factories import client_for, make_dataset, make_station_and_reflector

pytestmark = pytest.mark.django_db
URL = "/api/gnss-stations/net/DAX1/compare/"
STATION_LON, STATION_LAT = -1.05, 43.7


def ring_of_points(slug: str, velocities: np.ndarray, metres: float, **kwargs) -> Dataset:
    """Points on a circle of `metres` around the station, with the given velocities."""
    angles = np.linspace(0, 2 * np.pi, len(velocities), endpoint=False)
    lat = STATION_LAT + metres / 111_320.0 * np.sin(angles)
    lon = STATION_LON + metres / (111_320.0 * math.cos(math.radians(STATION_LAT))) * np.cos(angles)
    return make_dataset(slug, lon=lon, lat=lat, velocity=velocities, **kwargs)


def test_an_up_down_layer_is_compared_with_the_station_up_velocity() -> None:
    make_station_and_reflector()
    GNSSStation.objects.filter(code="DAX1").update(velocity_up_std=0.4)
    velocities = np.array([-3.0, -2.5, -1.5, -1.0, -2.0, -3.0])
    dataset = ring_of_points("up", velocities, 120, level="l3", pass_direction="")
    Dataset.objects.filter(pk=dataset.pk).update(component="up-down")
    ring_of_points("far", np.full(5, 40.0), 900, level="l3", pass_direction="")  # other dataset
    body = client_for().get(URL, {"dataset": "up"}).json()
    assert body["quantity"]["short"] == "up-down"
    assert body["station_velocity"] == -2.0 and body["station_velocity_std"] == 0.4
    assert body["points"]["count"] == 6
    assert body["points"]["mean_velocity"] == pytest.approx(velocities.mean(), abs=0.005)
    assert body["points"]["velocity_spread"] == pytest.approx(velocities.std(ddof=1), abs=0.005)
    assert body["difference"] == pytest.approx(velocities.mean() + 2.0, abs=0.01)
    expected = math.hypot(velocities.std(ddof=1) / math.sqrt(6), 0.4)
    assert body["difference_std"] == pytest.approx(expected, abs=0.01)
    # A smaller radius leaves the ring out.
    assert client_for().get(URL, {"dataset": "up", "radius_m": 100}).json()["points"]["count"] == 0


def test_a_los_layer_projects_the_station_on_the_points_mean_look_vector() -> None:
    make_station_and_reflector()
    dataset = ring_of_points("asc", np.full(8, 1.0), 150)
    look = np.array([-0.6, -0.11, 0.79])
    MeasurementPoint.objects.filter(dataset=dataset).update(
        los_east=look[0], los_north=look[1], los_up=look[2]
    )
    body = client_for().get(URL, {"dataset": "asc"}).json()
    unit = look / np.linalg.norm(look)
    expected = float(np.dot([0.5, 0.1, -2.0], unit))
    assert body["station_velocity"] == pytest.approx(expected, abs=0.006)
    assert body["direction_enu"] == pytest.approx(unit.tolist(), abs=1e-3)
    assert body["station_velocity_std"] is None  # the station has no stds
    assert "relative to the dataset's reference point" in body["note"]  # an L2a layer


def test_masked_points_do_not_count_and_reduced_layers_need_an_account(registered) -> None:
    make_station_and_reflector()
    dataset = ring_of_points("asc", np.arange(8.0), 150)
    MaskedArea.objects.create(
        name="east half",
        reason="test",
        geom=f"SRID=4326;MULTIPOLYGON((({STATION_LON} 43.69, -1.04 43.69, -1.04 43.71, "
        f"{STATION_LON} 43.71, {STATION_LON} 43.69)))",
    )
    count = client_for().get(URL, {"dataset": "asc"}).json()["points"]["count"]
    assert 0 < count < 8
    Dataset.objects.filter(pk=dataset.pk).update(visibility=Visibility.REDUCED)
    assert client_for().get(URL, {"dataset": "asc"}).status_code == 403
    assert client_for(registered).get(URL, {"dataset": "asc"}).status_code == 200


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ({}, 400, "dataset"),
        ({"dataset": "asc", "radius_m": "far"}, 400, "radius_m"),
        ({"dataset": "asc", "radius_m": "5000"}, 400, "radius_m"),
        ({"dataset": "nope"}, 404, None),
    ],
)
def test_bad_requests_name_the_field(query, status, field) -> None:
    make_station_and_reflector()
    ring_of_points("asc", np.arange(4.0), 150)
    response = client_for().get(URL, query)
    assert response.status_code == status
    if field:
        assert field in response.json()


def test_an_unknown_station_is_a_404() -> None:
    ring_of_points("asc", np.arange(4.0), 150)
    assert (
        client_for().get("/api/gnss-stations/net/NOPE/compare/", {"dataset": "asc"}).status_code
        == 404
    )
