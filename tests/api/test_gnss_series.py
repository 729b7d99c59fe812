"""GET /api/gnss-stations/<network>/<code>/series/: a station's position series in a layer's
direction, sampled at the layer's dates and shifted onto the mean series of the visible points
around it, with the RMSE of their difference."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pytest

from groundmotion.api.gnss_series import aligned, difference_stats, sample_at
from groundmotion.models import (
    Dataset,
    GNSSSeries,
    GNSSStation,
    MaskedArea,
    MeasurementPoint,
    Visibility,
)
from tests.factories import DATES, client_for, make_dataset, make_station_and_reflector

URL = "/api/gnss-stations/net/DAX1/series/"
STATION_LON, STATION_LAT = -1.05, 43.7
# Daily from 10 days before the layer's first date, with a 20-day outage in March.
OUTAGE = (datetime.date(2022, 3, 1), datetime.date(2022, 3, 20))
STATION_DAYS = [
    DATES[0] + datetime.timedelta(days=offset)
    for offset in range(-10, (DATES[-1] - DATES[0]).days + 3)
    if not OUTAGE[0] <= DATES[0] + datetime.timedelta(days=offset) <= OUTAGE[1]
]


def years(dates: list[datetime.date]) -> np.ndarray:
    return np.array([(d - DATES[0]).days / 365.25 for d in dates])


def truth(dates: list[datetime.date]) -> dict[str, np.ndarray]:
    """Station motion (mm): east 3 mm/yr, north -1 mm/yr, up -8 mm/yr plus 4 mm seasonal."""
    t = years(dates)
    return {"east": 3 * t, "north": -1 * t, "up": -8 * t + 4 * np.sin(2 * np.pi * t)}


def store_station_series(seed: int = 0, noise_mm: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    motion = {k: v + rng.normal(0, noise_mm, len(v)) for k, v in truth(STATION_DAYS).items()}
    station = GNSSStation.objects.get(code="DAX1")
    values = {key: (motion[key] - motion[key][0]).tolist() for key in motion}
    GNSSSeries.objects.create(station=station, dates=STATION_DAYS, **values)
    return {key: np.array(value) for key, value in values.items()}


def ring(slug: str, series: np.ndarray, metres: float = 120, **kwargs) -> Dataset:
    """Points on a circle around the station; series (points x DATES) rounded to the stored
    0.1 mm so that the expected values below are those the API reads back."""
    count = len(series)
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    lat = STATION_LAT + metres / 111_320.0 * np.sin(angles)
    lon = STATION_LON + metres / (111_320.0 * math.cos(math.radians(STATION_LAT))) * np.cos(angles)
    return make_dataset(slug, lon=lon, lat=lat, series=np.round(series, 1), **kwargs)


def brute_nearest(days: list, values: np.ndarray, dates: list) -> np.ndarray:
    out = []
    for date in dates:
        gaps = np.array([abs((day - date).days) for day in days])
        best = int(np.argmin(gaps))  # the first (earlier) one on a tie
        out.append(values[best] if gaps[best] <= 6 else np.nan)
    return np.array(out)


def test_sampling_takes_the_nearest_day_within_six_days_else_nothing() -> None:
    rng = np.random.default_rng(3)
    start = datetime.date(2020, 1, 1)
    days = sorted(start + datetime.timedelta(days=int(d)) for d in rng.choice(400, 150, False))
    values = rng.normal(0, 5, len(days))
    dates = [start + datetime.timedelta(days=int(d)) for d in range(-20, 420, 5)]
    expected = brute_nearest(days, values, dates)
    sampled = sample_at(days, values, dates)
    np.testing.assert_array_equal(np.isnan(sampled), np.isnan(expected))
    np.testing.assert_allclose(sampled[np.isfinite(sampled)], expected[np.isfinite(expected)])
    assert np.isnan(sampled).any() and np.isfinite(sampled).sum() > 50
    # A tie (3 days either side) takes the earlier day; 7 days away is too far.
    pair = [datetime.date(2020, 1, 1), datetime.date(2020, 1, 7)]
    assert sample_at(pair, np.array([1.0, 2.0]), [datetime.date(2020, 1, 4)]).tolist() == [1.0]
    late = sample_at(pair, np.array([1.0, 2.0]), [datetime.date(2020, 1, 14)])
    assert np.isnan(late).all()


def test_the_shift_and_rmse_are_those_of_numpy_on_a_known_truth() -> None:
    rng = np.random.default_rng(5)
    station = 2.0 * np.arange(40.0) / 10
    station[[0, 1, 17]] = np.nan
    mean = station + 7.5 + rng.normal(0, 1.2, 40)
    mean[[2, 30]] = np.nan
    shifted, shift = aligned(station, mean)
    common = np.isfinite(station) & np.isfinite(mean)
    assert shift == pytest.approx(np.mean(mean[common] - station[common]))
    assert shift == pytest.approx(7.5, abs=0.6)  # the known offset, within the noise
    rmse, bias = difference_stats(shifted, mean)
    assert rmse == pytest.approx(np.sqrt(np.mean((mean - shifted)[common] ** 2)))
    assert bias == pytest.approx(np.mean((mean - shifted)[common]))
    assert bias == pytest.approx(0.0, abs=1e-9)  # the least-squares offset leaves none
    assert rmse == pytest.approx(1.2, rel=0.35)  # the 1.2 mm noise
    assert aligned(np.full(3, np.nan), np.ones(3))[1] is None
    assert difference_stats(np.full(3, np.nan), np.ones(3)) == (None, None)


@pytest.mark.django_db
def test_an_up_down_layer_gets_the_station_up_series_at_its_dates() -> None:
    make_station_and_reflector()
    stored = store_station_series(noise_mm=2.0)
    rng = np.random.default_rng(9)
    points = truth(DATES)["up"] + 11.0 + rng.normal(0, 1.5, (6, len(DATES)))
    dataset = ring("up", points, level="l3", pass_direction="")
    Dataset.objects.filter(pk=dataset.pk).update(component="up-down")
    body = client_for().get(URL, {"dataset": "up"}).json()

    assert body["direction"] == {"east": 0.0, "north": 0.0, "up": 1.0}
    assert body["points_count"] == 6 and body["dates"][0] == DATES[0].isoformat()
    mean = np.round(points, 1).mean(axis=0)
    np.testing.assert_allclose(body["points_mean"], mean, atol=1e-3)
    sampled = brute_nearest(STATION_DAYS, stored["up"], DATES)
    common = np.isfinite(sampled)
    shift = np.mean(mean[common] - sampled[common])
    station = np.array([np.nan if v is None else v for v in body["station_series"]])
    np.testing.assert_array_equal(np.isnan(station), np.isnan(sampled))
    assert np.isnan(sampled).sum() == 2  # the March outage leaves two layer dates empty
    np.testing.assert_allclose(station, sampled + shift, atol=1e-3)
    expected = np.sqrt(np.mean((mean - sampled - shift)[common] ** 2))
    assert body["difference_rmse_mm"] == pytest.approx(expected, abs=2e-3)
    assert body["common_count"] == common.sum() == len(DATES) - 2
    assert body["shift_mm"] == pytest.approx(shift, abs=2e-3)


@pytest.mark.django_db
def test_a_los_layer_takes_the_station_along_the_points_mean_look_vector() -> None:
    make_station_and_reflector()
    stored = store_station_series()
    looks = np.array([[-0.60, -0.11, 0.79], [-0.64, -0.12, 0.76], [-0.58, -0.10, 0.81]])
    unit = looks.mean(axis=0) / np.linalg.norm(looks.mean(axis=0))
    enu = truth(DATES)
    los = unit[0] * enu["east"] + unit[1] * enu["north"] + unit[2] * enu["up"]
    dataset = ring("asc", np.tile(los, (3, 1)))
    for point, look in zip(MeasurementPoint.objects.filter(dataset=dataset), looks, strict=True):
        point.los_east, point.los_north, point.los_up = look
        point.save(update_fields=["los_east", "los_north", "los_up"])
    body = client_for().get(URL, {"dataset": "asc"}).json()

    assert list(body["direction"].values()) == pytest.approx(unit.tolist(), abs=1e-4)
    projected = np.dot(unit, np.array([stored["east"], stored["north"], stored["up"]]))
    expected = brute_nearest(STATION_DAYS, projected, DATES)
    mean = np.array([np.nan if v is None else v for v in body["points_mean"]])
    common = np.isfinite(expected) & np.isfinite(mean)
    expected += np.mean(mean[common] - expected[common])
    station = np.array([np.nan if v is None else v for v in body["station_series"]])
    np.testing.assert_allclose(station, expected, atol=1e-3)
    # Station and points share one truth: only the stored 0.1 mm rounding is left.
    assert body["difference_rmse_mm"] < 0.06
    assert "relative to the dataset's reference point" in body["note"]


@pytest.mark.django_db
def test_a_masked_point_does_not_change_the_mean() -> None:
    make_station_and_reflector()
    store_station_series()
    points = np.tile(truth(DATES)["up"], (8, 1))
    # The point at angle 0, east of the station, masked below: a trend of its own, which the
    # alignment's constant shift cannot absorb.
    points[0] += np.linspace(0, 400, len(DATES))
    dataset = ring("up", points, level="l3", pass_direction="")
    Dataset.objects.filter(pk=dataset.pk).update(component="up-down")
    before = client_for().get(URL, {"dataset": "up"}).json()
    # A 0 to 50 mm ramp in the mean after a least-squares offset: 50/sqrt(12) = 14.4 mm rms.
    assert before["points_count"] == 8 and before["difference_rmse_mm"] > 12
    MaskedArea.objects.create(
        name="east of the station",
        reason="test",
        geom="SRID=4326;MULTIPOLYGON(((-1.0487 43.699, -1.04 43.699, -1.04 43.701, "
        "-1.0487 43.701, -1.0487 43.699)))",
    )
    after = client_for().get(URL, {"dataset": "up"}).json()
    assert after["points_count"] == 7
    np.testing.assert_allclose(
        after["points_mean"], np.round(points[1:], 1).mean(axis=0), atol=1e-3
    )
    assert after["difference_rmse_mm"] < 0.06


@pytest.mark.django_db
def test_who_may_see_the_layer_decides(partners, member, outsider, registered) -> None:
    make_station_and_reflector()
    store_station_series()
    ring("closed", np.zeros((4, len(DATES))), visibility=Visibility.RESTRICTED, groups=[partners])
    assert client_for().get(URL, {"dataset": "closed"}).status_code == 404
    assert client_for(outsider).get(URL, {"dataset": "closed"}).status_code == 404
    assert client_for(member).get(URL, {"dataset": "closed"}).json()["points_count"] == 4
    ring("coarse", np.zeros((4, len(DATES))), visibility=Visibility.REDUCED)
    assert client_for().get(URL, {"dataset": "coarse"}).status_code == 403  # as compare/ does
    assert client_for(registered).get(URL, {"dataset": "coarse"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "query", "status", "field"),
    [
        (URL, {}, 400, "dataset"),
        (URL, {"dataset": "asc", "radius_m": "wide"}, 400, "radius_m"),
        (URL, {"dataset": "asc", "reference": "x"}, 400, "reference"),
        (URL, {"dataset": "asc", "reference": "999999999"}, 404, None),
        (URL, {"dataset": "nope"}, 404, None),
        ("/api/gnss-stations/net/NOPE/series/", {"dataset": "asc"}, 404, None),
    ],
)
def test_bad_requests_name_the_field(url, query, status, field) -> None:
    make_station_and_reflector()
    store_station_series()
    ring("asc", np.zeros((4, len(DATES))))
    response = client_for().get(url, query)
    assert response.status_code == status
    if field:
        assert field in response.json()


@pytest.mark.django_db
def test_a_station_without_a_series_is_a_404_and_a_reference_re_references_the_mean() -> None:
    make_station_and_reflector()
    points = np.tile(np.arange(len(DATES), dtype=float), (3, 1))
    dataset = ring("asc", points)
    assert client_for().get(URL, {"dataset": "asc"}).status_code == 404
    store_station_series()
    reference = MeasurementPoint.objects.filter(dataset=dataset).first()
    body = client_for().get(URL, {"dataset": "asc", "reference": reference.pk}).json()
    assert body["reference"]["point_id"] == reference.pk
    assert body["points_mean"] == [0.0] * len(DATES)  # every point has the reference's series
