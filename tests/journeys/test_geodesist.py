"""The geodesist's journey: find a place, open an L2b and an L3 point, compare the L3 layer
with a GNSS station, export the point's series."""

from __future__ import annotations

import csv
import io

import pytest

from groundmotion.models import GNSSStation
from tests.journeys.conftest import nearest_point, open_viewer, search_place, show_at
from tests.viewer.browser import click_location, wait_for_points

pytestmark = [pytest.mark.browser]
DAX = (-1.0537, 43.7103)  # GeoNames


def open_point(page, slug: str, lon: float, lat: float) -> None:
    show_at(page, lon, lat, 16)
    wait_for_points(page, slug)
    click_location(page, lon, lat)
    page.wait_for_selector("#side-panel svg.series-chart")


def test_geodesist_finds_dax_opens_l2b_and_l3_points_compares_gnss_and_exports(
    open_page, live_server, demo_products, steps, tmp_path
) -> None:
    page = open_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_viewer(page, live_server, "#dataset=demo-dax-asc-l2a&lat=44.20000&lon=-0.40000&z=9")
    search_place(page, "Dax")
    page.wait_for_function(
        f"() => window.GroundMotion.viewer.map.getCenter().distanceTo([{DAX[1]}, {DAX[0]}]) < 2000"
    )
    steps.shot(page, "search")

    station = GNSSStation.objects.get(network__slug="demo-gnss", code="DAX1")
    station_lon, station_lat = station.geom.x, station.geom.y
    page.select_option("#dataset-select", "demo-dax-asc-l2b")
    _, pid, lon, lat = nearest_point("demo-dax-asc-l2b", station_lon, station_lat)
    open_point(page, "demo-dax-asc-l2b", lon, lat)
    assert pid in page.inner_text("#side-panel .panel-title")
    assert "LOS ascending" in page.inner_text("#legend")
    assert "LOS displacement" in page.inner_text("#side-panel .panel-chart")
    steps.shot(page, "l2b-point")

    page.select_option("#dataset-select", "demo-dax-l3-up")
    page.wait_for_function("() => !location.hash.includes('points=')")  # the L2b point left
    _, pid, lon, lat = nearest_point("demo-dax-l3-up", station_lon, station_lat)
    open_point(page, "demo-dax-l3-up", lon, lat)
    legend = page.inner_text("#legend")
    assert "Vertical velocity" in legend and "satellite" not in legend
    assert "+ up" in page.inner_text("#side-panel .panel-chart")
    steps.shot(page, "l3-point")

    click_location(page, station_lon, station_lat)
    with page.expect_response(lambda response: "/compare/" in response.url) as answer:
        page.click(".gnss-compare-button")
    body = answer.value.json()
    page.wait_for_selector("table.gnss-compare")
    assert body["quantity"]["short"] == "up-down" and body["points"]["count"] > 0
    # The demo's stations sample the same ground truth as its tracks: within 1.5 mm/yr.
    assert abs(body["difference"]) < 1.5, body
    assert "DAX1" in page.inner_text("#side-panel")
    steps.shot(page, "gnss-compare")

    click_location(page, lon, lat)
    page.wait_for_selector("#side-panel svg.series-chart")
    with page.expect_download() as download:
        page.click("#side-panel a[href$='series.csv']")
    text = download.value.path().read_text()
    rows = list(
        csv.reader(
            io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith("#")))
        )
    )
    assert rows[0][:3] == ["date", "up_down_mm", "model_mm"]
    assert len(rows) - 1 == len(demo_products["demo-dax-l3-up"].acquisition_dates)
    assert "line-of-sight" not in text and "towards the satellite" not in text
    assert not errors, errors
