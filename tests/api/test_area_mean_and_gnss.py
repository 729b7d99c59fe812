"""The area mean's spread, velocity, counts and CSV; GNSS stations by bounding box."""

from __future__ import annotations

import csv
import datetime
import io
import json

import numpy as np
import pytest
from django.urls import reverse

from groundmotion.api import series
from groundmotion.models import Dataset, GNSSNetwork, GNSSStation, PointSeries
from groundmotion.storage import copy_in
from tests.factories import DATES, client_for, make_dataset

# Five points inside the square, one outside.
LON = [-1.050, -1.049, -1.048, -1.047, -1.046, -1.020]
LAT = [43.700] * 6
VELOCITY = np.array([-6.0, -4.0, -2.0, 0.0, 1.0, 9.0])
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[-1.055, 43.69], [-1.04, 43.69], [-1.04, 43.71], [-1.055, 43.71], [-1.055, 43.69]]
    ],
}


def post_area(slug: str, query: str = ""):
    body = json.dumps({"dataset": slug, "geometry": SQUARE})
    url = reverse("api-area-mean") + query
    return client_for().post(url, body, content_type="application/json")


def series_with_gaps() -> np.ndarray:
    years = np.array([(d - DATES[0]).days / 365.25 for d in DATES])
    rng = np.random.default_rng(3)
    matrix = (VELOCITY[:, None] * years + rng.normal(0, 0.5, (6, len(DATES)))).astype(np.float32)
    matrix[0, 4] = matrix[2, 4] = matrix[1, 9] = np.nan
    return matrix


@pytest.mark.django_db
def test_the_area_mean_has_its_std_velocity_and_count_per_date():
    matrix = series_with_gaps()
    make_dataset("open", lon=LON, lat=LAT, velocity=VELOCITY, series=matrix)
    body = post_area("open").json()
    inside = np.round(matrix[:5].astype(np.float64), 1)  # series are stored to 0.1 mm
    assert body["count"] == 5
    assert body["count_per_date"][4] == 3 and body["count_per_date"][9] == 4
    assert body["count_per_date"][0] == 5
    assert np.allclose(body["std"], np.nanstd(inside, axis=0), atol=0.06)
    mean = np.nanmean(inside, axis=0)
    years = series.years_since_first(DATES)
    assert years[-1] < 1  # half a year: a straight line, not the seasonal model
    assert body["velocity_mm_yr"] == pytest.approx(np.polyfit(years, mean, 1)[0], abs=0.05)
    assert body["velocity_mm_yr"] == pytest.approx(VELOCITY[:5].mean(), abs=0.5)
    assert body["velocity_model"].startswith("offset + velocity·t (series shorter")
    assert body["velocity_std_mm_yr"] == pytest.approx(VELOCITY[:5].std(), abs=1e-3)
    assert body["points_velocity_mean_mm_yr"] == pytest.approx(-2.2, abs=1e-3)
    assert "towards the satellite" in body["sign_convention"]


@pytest.mark.django_db
def test_over_two_years_the_area_mean_velocity_is_the_full_model_fit():
    dates = [DATES[0] + datetime.timedelta(days=12 * i) for i in range(100)]  # 3.3 years
    years = series.years_since_first(dates)
    season = 3 * np.sin(2 * np.pi * years)
    matrix = (VELOCITY[:, None] * years + season).astype(np.float32)
    dataset = make_dataset("long", lon=LON, lat=LAT, velocity=VELOCITY, series=matrix[:, :30])
    Dataset.objects.filter(pk=dataset.pk).update(acquisition_dates=dates)
    PointSeries.objects.all().delete()
    ids = list(dataset.points.order_by("id").values_list("id", flat=True))
    copy_in.copy_series(np.array(ids), matrix)
    body = post_area("long").json()
    mean = np.nanmean(np.round(matrix[:5].astype(np.float64), 1), axis=0)
    assert body["velocity_mm_yr"] == pytest.approx(
        series.fit_model(dates, mean)["velocity_mm_yr"], abs=0.01
    )
    assert body["velocity_mm_yr"] == pytest.approx(-2.2, abs=0.05)
    assert body["velocity_model"].startswith("offset + velocity·t + acceleration")


@pytest.mark.django_db
def test_an_up_down_area_mean_says_up():
    dataset = make_dataset("up", lon=LON, lat=LAT, velocity=VELOCITY, level="l3")
    Dataset.objects.filter(pk=dataset.pk).update(component="up-down", pass_direction="")
    body = post_area("up").json()
    assert body["quantity"]["positive"] == "up"
    assert "satellite" not in body["sign_convention"]


@pytest.mark.django_db
def test_the_area_mean_csv_has_the_columns_and_the_counts():
    matrix = series_with_gaps()
    make_dataset("open", lon=LON, lat=LAT, velocity=VELOCITY, series=matrix)
    response = post_area("open", "?output=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("# mean of 5 points, dataset open;")
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))
    assert list(rows[0]) == ["date", "mean_mm", "std_mm", "count"]
    assert [row["date"] for row in rows] == [d.isoformat() for d in DATES]
    json_body = post_area("open").json()
    assert [int(row["count"]) for row in rows] == json_body["count_per_date"]
    assert [float(row["mean_mm"]) for row in rows] == json_body["mean"]
    assert max(int(row["count"]) for row in rows) == 5


@pytest.mark.django_db
def test_an_unknown_area_output_is_a_400():
    make_dataset("open", lon=LON, lat=LAT)
    response = post_area("open", "?output=xml")
    assert response.status_code == 400
    assert "output" in response.json()


def make_stations() -> None:
    network = GNSSNetwork.objects.create(slug="net", name="Net", reference_frame="ETRF2000")
    for i, (lon, lat) in enumerate([(-1.05, 43.70), (-1.00, 43.72), (2.35, 48.85)]):
        GNSSStation.objects.create(
            network=network,
            code=f"ST{i}",
            geom=f"SRID=4326;POINT({lon} {lat})",
            height=40.0 + i,
            velocity_east=0.5,
            velocity_north=0.1,
            velocity_up=-2.0,
            velocity_up_std=0.3,
        )


@pytest.mark.django_db
def test_gnss_stations_by_bbox_are_only_those_inside():
    make_stations()
    url = reverse("api-gnss-stations")
    everything = client_for().get(url).json()["features"]
    assert len(everything) == 3
    inside = client_for().get(url, {"bbox": "-1.1,43.6,-0.9,43.8"}).json()["features"]
    assert [f["properties"]["code"] for f in inside] == ["ST0", "ST1"]
    properties = inside[0]["properties"]
    assert properties["reference_frame"] == "ETRF2000"
    assert properties["height"] == 40.0 and properties["velocity_up_std"] == 0.3
    assert properties["series"] is False
    paris = client_for().get(url, {"bbox": "2,48,3,49"}).json()["features"]
    assert [f["properties"]["code"] for f in paris] == ["ST2"]


@pytest.mark.django_db
@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "3,40,1,45", "0,0,200,1", "nan,0,1,1"])
def test_a_bad_gnss_bbox_is_a_400_naming_bbox(bbox):
    response = client_for().get(reverse("api-gnss-stations"), {"bbox": bbox})
    assert response.status_code == 400
    assert "bbox" in response.json()
