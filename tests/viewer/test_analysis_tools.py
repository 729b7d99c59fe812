"""The analysis tools of the map in real headless Chromium against live_server: the profile line
(the points of a known band, its plot, its CSV) and the chart tools of a point (the model the
server fits, its parameters, replicas, detrend, the fit over a dragged date range).
Screenshots: see tests/viewer/analysis_pages.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.test import Client
from pyproj import Geod
from shapely.geometry import LineString, Point

from groundmotion.models import Dataset
from tests.viewer.analysis_pages import (
    DAYS,
    KINK,
    LAT,
    LON,
    VELOCITY,
    YEARS,
    Requests,
    make_bending_dataset,
    open_map,
    point_id,
    shot,
)
from tests.viewer.browser import click_location, wait_for_idle_database

pytestmark = [pytest.mark.browser]
WGS84 = Geod(ellps="WGS84")


@pytest.fixture
def page(browser, live_server, transactional_db):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    yield page
    page.goto("about:blank")
    context.close()
    wait_for_idle_database()


@pytest.fixture
def asc() -> Dataset:
    return make_bending_dataset()


def test_a_profile_line_shows_the_points_within_its_band(page, live_server, asc) -> None:
    row = 5  # the points of latitude LAT[row]: one a column, 12
    lat = 43.70 + row * 0.00135
    west, east = LON.min() - 0.0005, LON.max() + 0.0005
    line = LineString([(west, lat), (east, lat)])
    # Expected members: points within 40 m (half the 80 m width) of the line, on the ellipsoid.
    expected = [
        i
        for i in range(len(LON))
        if abs(WGS84.inv(LON[i], LAT[i], LON[i], lat)[2]) <= 40
        and line.distance(Point(LON[i], LAT[i])) < 1
    ]
    assert len(expected) == 12
    open_map(page, live_server, zoom=14)
    page.fill("#profile-width", "80")
    page.click("#profile-draw")
    click_location(page, west, lat)
    point = page.evaluate(
        f"() => window.GroundMotion.viewer.map.latLngToContainerPoint([{lat}, {east}])"
    )
    box = page.locator("#map").bounding_box()
    with page.expect_request(lambda r: r.url.endswith("/api/profile/")) as posted:
        page.mouse.dblclick(box["x"] + point["x"], box["y"] + point["y"])
    body = json.loads(posted.value.post_data)
    assert body["dataset"] == "asc" and body["width"] == 80
    assert body["line"]["type"] == "LineString" and len(body["line"]["coordinates"]) == 2
    count = page.wait_for_selector("#side-panel .profile-count b").get_attribute("data-count")
    assert int(count) == len(expected)
    assert page.locator("#side-panel svg.profile-chart circle.profile-point").count() == 12
    assert page.locator(".profile-band").count() == 1
    assert not page.evaluate("() => window.GroundMotion.viewer.drawing")
    shot(page, "profile")

    with page.expect_download() as download:
        page.click("#side-panel .profile-csv")
    assert download.value.suggested_filename == "asc-profile.csv"
    header = Path(download.value.path()).read_text().splitlines()
    assert len([line for line in header if line and not line.startswith("#")]) == 12 + 1

    # A period: the profile shown is asked again for it, and the eastern half drops by 8 mm/yr.
    start, end = DAYS[KINK].isoformat(), DAYS[-1].isoformat()
    with page.expect_request(lambda r: r.url.endswith("/api/profile/")) as again:
        page.evaluate(
            f"() => window.GroundMotion.viewer.setAnalysis({{start: '{start}', end: '{end}'}})"
        )
    body = json.loads(again.value.post_data)
    assert (body["start"], body["end"]) == (start, end)
    page.wait_for_selector("#side-panel .profile-count")
    assert "velocity " + start in page.locator("#side-panel .profile-count").inner_text()
    shot(page, "profile-period")


def test_the_chart_tools_ask_the_server_for_the_model_and_show_its_parameters(
    page, live_server, asc
) -> None:
    index = 100
    open_map(page, live_server, f"&points={point_id(asc, index)}", zoom=16)
    page.wait_for_selector("#side-panel .model-parameters tr[data-name=velocity]")
    requests = Requests(page)
    page.check("#model-acceleration")
    page.wait_for_selector("#side-panel .model-result[data-terms=acceleration]")
    page.wait_for_selector("#side-panel .model-parameters tr[data-name=acceleration]")
    model = requests.params("/model/")
    assert model and model[-1]["terms"] == ["acceleration"]
    names = page.locator("#side-panel .model-parameters th").all_inner_texts()
    assert names == ["offset", "velocity", "acceleration"]
    # The series is linear then bends: plain numpy's fit of offset, velocity, t²/2 on the series
    # as stored (0.1 mm steps) gives the velocity the panel shows.
    stored = np.array(Client().get(f"/api/points/{point_id(asc, index)}/").json()["displacements"])
    design = np.column_stack([np.ones_like(YEARS), YEARS, YEARS**2 / 2])
    coefficients = np.linalg.lstsq(design, stored, rcond=None)[0]
    assert abs(coefficients[1] - VELOCITY[index]) > 1  # the bend: not the stored velocity
    shown = page.locator("#side-panel .model-parameters tr[data-name=velocity] td").inner_text()
    assert float(shown.split(" ")[0]) == pytest.approx(coefficients[1], abs=0.01)

    page.check("#chart-replicas")
    page.wait_for_function(
        "() => document.querySelectorAll('#side-panel .chart-faint').length === 2"
    )
    page.check("#model-seasonal")
    page.wait_for_selector("#side-panel .model-parameters tr[data-name=seasonal_sin]")
    shot(page, "chart-model")

    requests.clear()
    svg = page.locator("#side-panel svg.series-chart").bounding_box()
    y = svg["y"] + svg["height"] / 2
    page.mouse.move(svg["x"] + svg["width"] * 0.45, y)
    page.mouse.down()
    page.mouse.move(svg["x"] + svg["width"] * 0.95, y, steps=5)
    page.mouse.up()
    page.wait_for_selector("#chart-zoom-reset:not([hidden])")
    zoomed = requests.params("/model/")[-1]
    assert zoomed["start"][0] > DAYS[0].isoformat() and zoomed["end"][0] <= DAYS[-1].isoformat()
    page.wait_for_function(
        "(start) => document.querySelector('#side-panel .model-window').textContent"
        ".startsWith('Fit over ' + start)",
        arg=zoomed["start"][0],
    )
    shown = page.locator("#side-panel svg.series-chart").get_attribute("data-dates")
    assert int(shown) == sum(zoomed["start"][0] <= d.isoformat() <= zoomed["end"][0] for d in DAYS)
    shot(page, "chart-zoomed")

    requests.clear()
    page.check("#chart-detrend")
    page.wait_for_function("() => document.querySelector('#side-panel .chart-fit') !== null")
    assert requests.params("/model/")[-1]["start"] == zoomed["start"]  # the zoom stays
    page.click("#chart-zoom-reset")
    page.wait_for_function(
        "() => document.querySelector('#side-panel .model-window').textContent"
        ".startsWith('Fit over the whole window')"
    )
    assert "start" not in requests.params("/model/")[-1]
