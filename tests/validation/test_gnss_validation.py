"""Leave-one-station-out GNSS validation of an L2b: computed by the calibrate job, stored in
its provenance, shown in the API's dataset detail and the admin's dataset page."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.management import call_command

from groundmotion.models import Dataset, GNSSNetwork, MaskedArea, Status, Visibility
from processing.kernels import calibration
from processing.products.calibrate import calibrate_dataset

POINTS = 6000


@pytest.fixture
def l2b(db) -> Dataset:
    call_command("make_demo", points=POINTS, seed=2, years=3.0, stdout=io.StringIO())
    source = Dataset.objects.get(slug="demo-dax-asc-l2a")
    output, _ = calibrate_dataset(source, GNSSNetwork.objects.get(slug="demo-gnss"), "dax-l2b")
    return output


def test_each_left_out_misfit_is_the_station_against_a_surface_fitted_without_it(l2b) -> None:
    report = l2b.provenance["calibration"]
    stations = report["stations"]
    assert len(stations) >= 5
    centre = report["centre"]
    x, y = calibration.local_km(
        np.array([s["lon"] for s in stations]), np.array([s["lat"] for s in stations]), *centre
    )
    difference = np.array([s["insar"] - s["gnss"] for s in stations])
    std = np.array([s["std"] for s in stations])
    kept = np.array([not s["rejected"] for s in stations])
    order = report["surface_order"]
    for k, station in enumerate(stations):
        others = kept & (np.arange(len(stations)) != k)
        # A plain least-squares polynomial, written here again, weighted by 1/std.
        columns = [np.ones(others.sum()), x[others], y[others]][: {0: 1, 1: 3}[order]]
        design = np.column_stack(columns) / np.maximum(std[others], 0.05)[:, None]
        coefficients = np.linalg.lstsq(
            design, difference[others] / np.maximum(std[others], 0.05), rcond=None
        )[0]
        at = np.array([1.0, x[k], y[k]])[: len(coefficients)]
        assert station["left_out_misfit"] == pytest.approx(difference[k] - at @ coefficients)
    left_out = np.array([s["left_out_misfit"] for s in stations])[kept]
    summary = report["leave_one_out"]
    assert summary["rmse"] == pytest.approx(float(np.sqrt(np.mean(left_out**2))))
    assert summary["requirement_mm_yr"] == 3.0 and summary["distance_km"] == [0.1, 50.0]
    assert 0.0 <= summary["share_within"] <= 1.0 and summary["pairs"] >= 10


def test_the_pair_test_counts_double_differences_within_3_mm_yr_over_0_1_to_50_km() -> None:
    x = np.array([0.0, 0.05, 10.0, 70.0])  # km: (0, 1) is too close, every pair with 3 too far
    y = np.zeros(4)
    misfit = np.array([0.0, 9.0, 2.0, 0.0])  # InSAR minus GNSS at each station, mm/yr
    result = calibration.pair_requirement(x, y, misfit)
    assert result["pairs"] == 2  # (0, 2) and (1, 2)
    assert result["share_within"] == pytest.approx(0.5)  # |0 - 2| passes, |9 - 2| fails
    assert result["passes"] is False


def test_the_api_shows_the_validation_and_hides_station_values_under_a_mask(l2b, client):
    url = f"/api/datasets/{l2b.slug}/"
    assert client.get(url).status_code == 404  # a draft: curators only
    Dataset.objects.filter(pk=l2b.pk).update(status=Status.PUBLISHED, visibility=Visibility.PUBLIC)
    body = client.get(url).json()
    validation = body["gnss_validation"]
    assert validation["network"] == "demo-gnss"
    assert validation["leave_one_out"]["rmse"] < 1.0
    codes = {s["code"] for s in validation["stations"]}
    assert "DAX1" in codes and all("left_out_misfit" in s for s in validation["stations"])
    Dataset.objects.filter(pk=l2b.pk).update(visibility=Visibility.REDUCED)
    assert client.get(url).json()["gnss_validation"]["stations"] is None  # cells only
    Dataset.objects.filter(pk=l2b.pk).update(visibility=Visibility.PUBLIC)
    MaskedArea.objects.create(
        name="secret", geom=MultiPolygon(Polygon.from_bbox((-1.06, 43.70, -1.04, 43.71)))
    )
    hidden = client.get(url).json()["gnss_validation"]
    assert hidden["stations"] is None and hidden["leave_one_out"] == validation["leave_one_out"]
    assert client.get("/api/datasets/demo-dax-asc-l2a/").json()["gnss_validation"] is None
    assert client.get("/api/datasets/no-such-thing/").status_code == 404


def test_the_admin_dataset_page_shows_the_report(l2b, client, curator) -> None:
    client.force_login(curator)
    html = client.get(f"/admin/groundmotion/dataset/{l2b.pk}/change/").content.decode()
    assert "Leave-one-station-out" in html and "OPERA Cal/Val" in html
    for station in l2b.provenance["calibration"]["stations"]:
        assert f"<td>{station['code']}</td>" in html
