"""Every server-side label says what the values measure: up-down for L3 U, LOS and its pass for
L2a (groundmotion/quantities.py), in the point detail, the plots, the series CSV and exports."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import numpy as np
import pytest
from django.urls import reverse

from groundmotion.api import series
from groundmotion.exports.writers import write_export
from groundmotion.models import Component, Dataset, Level, PassDirection
from tests.factories import DATES, client_for, make_dataset

pytestmark = pytest.mark.django_db
LON = [-1.05, -1.04, -1.03, -1.02]
LAT = [43.70, 43.70, 43.70, 43.70]
LOS_WORDS = ("line-of-sight", "towards the satellite", "towards satellite", "LOS")


def up_down_dataset() -> Dataset:
    rng = np.random.default_rng(3)
    years = np.array([(d - DATES[0]).days / 365.25 for d in DATES])
    series_mm = (-3.0 * years + rng.normal(0, 0.8, (4, len(DATES)))).astype(np.float32)
    dataset = make_dataset(
        "dax-up",
        lon=LON,
        lat=LAT,
        velocity=[-3, -3, -3, -3],
        series=series_mm,
        level=Level.L3,
        pass_direction=PassDirection.NONE,
    )
    Dataset.objects.filter(pk=dataset.pk).update(component=Component.UP_DOWN, grid_size_m=100)
    dataset.refresh_from_db()
    return dataset


def first_point(dataset: Dataset) -> int:
    return dataset.points.order_by("id").values_list("id", flat=True)[0]


def svg_text(point_id: int) -> str:
    return client_for().get(reverse("api-point-plot-svg", args=[point_id])).content.decode()


def test_an_up_down_point_says_up_down_everywhere_and_never_line_of_sight(tmp_path) -> None:
    dataset = up_down_dataset()
    point_id = first_point(dataset)
    body = client_for().get(reverse("api-point", args=[point_id])).json()
    assert body["quantity"]["short"] == "up-down" and body["quantity"]["positive"] == "up"
    assert body["sign_convention"] == "positive up-down displacement is upwards (uplift)"
    svg = svg_text(point_id)
    assert "Vertical displacement, mm (+ up)" in svg and "up-down displacement" in svg
    header = client_for().get(reverse("api-point-series-csv", args=[point_id])).content.decode()
    comments = [line for line in header.splitlines() if line.startswith("#")]
    assert "Dax Up" in comments[0] and comments[1].startswith("# up-down displacement, mm (+ up)")
    geotiff = tmp_path / "up.tif"
    write_export("geotiff", dataset.points.all(), dataset, geotiff)
    info = json.loads(subprocess.check_output(["gdalinfo", "-json", str(geotiff)]))
    band = info["bands"][0]
    assert band["description"] == "mean velocity, up-down, mm/yr, + up"
    assert band["metadata"][""]["sign_convention"] == body["sign_convention"]
    for text in (json.dumps(body), svg, "\n".join(comments), json.dumps(info)):
        for word in LOS_WORDS:
            assert word not in text


def test_an_l2a_point_says_los_with_its_pass() -> None:
    dataset = make_dataset("dax-asc", lon=LON, lat=LAT, velocity=[-4, -2, 0, 2])
    point_id = first_point(dataset)
    body = client_for().get(reverse("api-point", args=[point_id])).json()
    assert body["quantity"]["short"] == "LOS ascending"
    assert "towards the satellite" in body["sign_convention"]
    svg = svg_text(point_id)
    assert "LOS ascending displacement" in svg and "(+ towards satellite)" in svg
    text = client_for().get(reverse("api-point-series-csv", args=[point_id])).content.decode()
    assert text.splitlines()[1].startswith("# LOS ascending displacement, mm (+ towards the")
    assert next(line for line in text.splitlines() if not line.startswith("#")) == (
        "date,los_mm,model_mm,model_std_mm"
    )


def test_the_series_csv_carries_the_fitted_model_and_its_band() -> None:
    dataset = up_down_dataset()
    point_id = first_point(dataset)
    text = client_for().get(reverse("api-point-series-csv", args=[point_id])).content.decode()
    rows = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
    assert [row["date"] for row in rows] == [d.isoformat() for d in DATES]
    values = np.array([float(row["up_down_mm"]) for row in rows])
    model = series.fit_model(DATES, values)
    assert np.allclose([float(row["model_mm"]) for row in rows], model["fitted"], atol=2e-3)
    assert {float(row["model_std_mm"]) for row in rows} == {round(model["residual_std_mm"], 3)}
    assert 0.3 < model["residual_std_mm"] < 1.5  # the 0.8 mm noise, not zero, not garbage


def test_a_geopackage_export_names_its_quantity_and_sign(tmp_path) -> None:
    dataset = up_down_dataset()
    path = tmp_path / "up.gpkg"
    write_export("gpkg", dataset.points.all(), dataset, path)
    info = subprocess.check_output(["ogrinfo", "-so", str(path), dataset.slug], text=True)
    assert "SIGN_CONVENTION=positive up-down displacement is upwards (uplift)" in info
    assert "QUANTITY=up-down" in info


def test_the_datasets_list_gives_each_area_and_quantity_and_every_kind_of_sign() -> None:
    up = up_down_dataset()
    Dataset.objects.filter(pk=up.pk).update(area="Dax")
    make_dataset("dax-asc", lon=LON, lat=LAT)
    body = client_for().get(reverse("api-datasets")).json()
    listed = {item["slug"]: item for item in body["datasets"]}
    assert listed["dax-up"]["area"] == "Dax" and listed["dax-asc"]["area"] == ""
    assert listed["dax-up"]["quantity"]["short"] == "up-down"
    for words in ("towards the satellite", "towards the east", "upwards"):
        assert words in body["sign_convention"]
