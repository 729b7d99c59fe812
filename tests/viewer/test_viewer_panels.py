"""The viewer's words, panels, charts, filters and overlays, in real headless Chromium against
live_server: component-aware labels, the selection on a layer switch, the compare legend and
round ticks, the polygon mean with its band and CSV, the filters in the URL, GNSS by viewport."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from playwright.sync_api import Page

from groundmotion.models import Component, Dataset, GNSSNetwork, GNSSStation, Level, Visibility
from groundmotion.quantities import quantity_for
from tests.factories import DATES, make_dataset
from tests.viewer.browser import click_location, wait_for_idle_database, wait_for_points

pytestmark = [pytest.mark.browser]
SHOTS = Path(os.environ.get("VIEWER_SHOTS", "/tmp/viewer-shots"))
GRID = np.arange(12)
LON, LAT = np.repeat(-1.06 + GRID * 0.0019, 12), np.tile(43.70 + GRID * 0.00135, 12)
VELOCITY = np.repeat(GRID - 6.0, 12)  # -6 .. 5 mm/yr by column
SIX_METRES = 6 / 111_320  # degrees of latitude


@pytest.fixture
def page(browser, live_server, transactional_db):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    yield page
    page.goto("about:blank")
    context.close()
    wait_for_idle_database()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def l3_up(slug: str, **kwargs) -> Dataset:
    dataset = make_dataset(slug, level=Level.L3, pass_direction="", **kwargs)
    Dataset.objects.filter(pk=dataset.pk).update(component=Component.UP_DOWN)
    return Dataset.objects.get(pk=dataset.pk)


def open_map(page: Page, live_server, slug: str, zoom: int = 15, extra: str = "") -> None:
    fragment = f"#dataset={slug}&lat={LAT.mean():.5f}&lon={LON.mean():.5f}&z={zoom}{extra}"
    page.goto(f"{live_server.url}/map/{fragment}")
    page.wait_for_selector("body[data-viewer-ready=true]")


def hash_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).fragment)


def point_id(dataset: Dataset, index: int) -> int:
    return dataset.points.order_by("id").values_list("id", flat=True)[index]


def test_an_up_down_layer_says_up_and_a_los_layer_says_los_with_its_pass(
    page, live_server, transactional_db
) -> None:
    up = l3_up("up", lon=LON, lat=LAT, velocity=VELOCITY)
    make_dataset("asc", lon=LON, lat=LAT, velocity=VELOCITY)
    words_up = quantity_for(Level.L3, Component.UP_DOWN)
    words_asc = quantity_for(Level.L2A, Component.LOS, "ascending")
    open_map(page, live_server, "up", 16, f"&points={point_id(up, 40)}")
    page.wait_for_selector("#side-panel svg.series-chart")
    legend = page.locator("#legend").inner_text()
    axis = page.locator("#side-panel .chart-label").text_content()
    panel = page.locator("#side-panel .point-list").inner_text()
    shot(page, "l3-up-point")
    assert page.locator("#legend .legend-title").inner_text() == words_up["velocity_label"]
    assert "+ up" in legend and "down" in legend
    assert axis == words_up["displacement_label"]
    assert "vertical velocity" in panel.lower()
    for text in (legend, axis, panel):
        assert "line-of-sight" not in text.lower() and "satellite" not in text and "LOS" not in text

    page.select_option("#dataset-select", "asc")
    page.wait_for_function(
        "(title) => document.querySelector('#legend .legend-title').textContent === title",
        arg=words_asc["velocity_label"],
    )
    wait_for_points(page, "asc")  # the new layer's tiles, before clicking one of its points
    click_location(page, LON[40], LAT[40])
    page.wait_for_selector("#side-panel svg.series-chart")
    legend = page.locator("#legend").inner_text()
    shot(page, "l2a-asc-point")
    assert "ascending" in legend and "towards the satellite" in legend
    assert (
        page.locator("#side-panel .chart-label").text_content() == words_asc["displacement_label"]
    )
    assert "LOS ascending velocity" in page.locator("#side-panel .point-list").inner_text()


def test_a_layer_switch_clears_the_old_point_and_offers_the_nearby_one(
    page, live_server, transactional_db
) -> None:
    asc = make_dataset("asc", lon=LON, lat=LAT, velocity=VELOCITY)
    desc = make_dataset(
        "desc", lon=LON, lat=LAT + SIX_METRES, velocity=VELOCITY, pass_direction="descending"
    )
    make_dataset("far", lon=LON + 0.0009, lat=LAT + 0.0007, velocity=VELOCITY)
    old = point_id(asc, 40)
    open_map(page, live_server, "asc", 16, f"&points={old}")
    page.wait_for_selector("#side-panel svg.series-chart")
    assert hash_of(page)["points"] == [str(old)]

    page.select_option("#dataset-select", "desc")
    offer = page.wait_for_selector("#side-panel .nearby-point")
    shot(page, "switch-offers-nearby")
    assert "points" not in hash_of(page)
    assert page.locator("#side-panel svg.series-chart").count() == 0
    assert "ASC000040" in page.locator("#side-panel .panel-body").inner_text()
    assert offer.inner_text() == "Point DESC000040 of this layer is 6 m away: show it"
    assert page.evaluate("() => window.GroundMotion.viewer.selected") == []

    offer.click()
    page.wait_for_function(
        "() => document.querySelector('#side-panel .panel-title')"
        ".textContent === 'Point DESC000040'"
    )
    assert hash_of(page)["points"] == [str(point_id(desc, 40))]

    page.select_option("#dataset-select", "far")
    page.wait_for_selector("#side-panel .nearby-none")
    assert "No point of this layer within 20 m" in page.locator("#side-panel").inner_text()
    assert "points" not in hash_of(page)


def test_a_switch_to_a_cells_only_layer_says_so(page, live_server, transactional_db) -> None:
    asc = make_dataset("asc", lon=LON, lat=LAT, velocity=VELOCITY)
    make_dataset("cells", lon=LON, lat=LAT, velocity=VELOCITY, visibility=Visibility.REDUCED)
    open_map(page, live_server, "asc", 16, f"&points={point_id(asc, 40)}")
    page.wait_for_selector("#side-panel svg.series-chart")
    page.select_option("#dataset-select", "cells")
    message = page.wait_for_selector("#side-panel .nearby-none").inner_text()
    assert message == "This layer shows you cells only, no points."
    assert "points" not in hash_of(page)


def test_the_compare_legend_names_both_points_and_the_ticks_are_round(
    page, live_server, transactional_db
) -> None:
    rng = np.random.default_rng(4)
    years = np.array([(d - DATES[0]).days / 365.25 for d in DATES])
    # Odd values, so that ticks taken from the data would not be round (the issue's -21.4, -14.4).
    series = VELOCITY[:, None] * 7.3 * years - 14.37 + rng.normal(0, 1.3, (144, len(DATES)))
    asc = make_dataset("asc", lon=LON, lat=LAT, velocity=VELOCITY, series=series)
    first, second = point_id(asc, 3), point_id(asc, 140)
    open_map(page, live_server, "asc", 16, f"&points={first},{second}")
    page.wait_for_function(
        "() => document.querySelectorAll('#side-panel .chart-legend-item').length === 2"
    )
    legend = page.locator("#side-panel .chart-legend-item").all_inner_texts()
    assert legend == ["ASC000003 · Asc", "ASC000140 · Asc"]
    colours = page.eval_on_selector_all(
        "#side-panel .chart-swatch", "nodes => nodes.map(n => n.style.background)"
    )
    assert len(set(colours)) == 2

    step = float(page.get_attribute("#side-panel svg.series-chart", "data-step"))
    texts = page.eval_on_selector_all(
        "#side-panel .chart-tick:not(.chart-time-tick)", "nodes => nodes.map(n => n.textContent)"
    )
    values = [float(text) for text in texts]
    assert len(values) >= 3
    assert step in (1, 2, 5, 10, 20, 50, 0.5, 0.2)
    for value in values:
        assert abs(value / step - round(value / step)) < 1e-9, (value, step)
    assert np.allclose(np.diff(values), step)
    times = page.eval_on_selector_all(
        "#side-panel .chart-time-tick", "nodes => nodes.map(n => n.textContent)"
    )
    assert times and all(len(t) == 7 and t[4] == "-" for t in times)  # six months: months

    box = page.locator("#side-panel svg.series-chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    tooltip = page.locator("#side-panel .chart-tooltip").inner_text()
    shot(page, "compare-two-points")
    assert "ASC000003" in tooltip and "ASC000140" in tooltip and " mm" in tooltip


def test_the_polygon_mean_shows_band_velocity_count_and_its_csv(
    page, live_server, transactional_db
) -> None:
    rng = np.random.default_rng(8)
    years = np.array([(d - DATES[0]).days / 365.25 for d in DATES])
    series = VELOCITY[:, None] * years + rng.normal(0, 2, (144, len(DATES)))
    make_dataset("asc", lon=LON, lat=LAT, velocity=VELOCITY, series=series)
    open_map(page, live_server, "asc", 15)
    wait_for_points(page, "asc")
    page.click("#draw-area")
    corners = [(-1.0610, 43.6990), (-1.0553, 43.6990), (-1.0553, 43.7034), (-1.0610, 43.7034)]
    for lon, lat in [*corners, corners[0]]:
        click_location(page, lon, lat)
        page.wait_for_timeout(150)
    count = page.wait_for_selector("#side-panel .area-count b")
    assert count.get_attribute("data-count") == "9"
    assert page.locator("#side-panel .chart-band").count() == 1
    velocity = float(page.get_attribute("#side-panel .area-velocity b", "data-velocity"))
    text = page.locator("#side-panel .area-velocity").inner_text()
    assert "± " in text and "mm/yr" in text
    # The first three columns' velocities are -6 and -5 and -4: the points' mean is -5.
    assert "-5.00 ± 0.82" in text
    assert np.isfinite(velocity)
    assert "towards the satellite" in page.locator("#side-panel").inner_text()
    box = page.locator("#side-panel svg.series-chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    assert re.search(
        r"mean of 9 points -?\d+\.\d ± \d+\.\d mm",
        page.locator("#side-panel .chart-tooltip").inner_text(),
    )
    shot(page, "polygon-mean")

    with page.expect_download() as waiting:
        page.click("#side-panel .area-csv")
    lines = Path(waiting.value.path()).read_text().splitlines()
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))
    assert lines[0].startswith("# mean of 9 points")
    assert list(rows[0]) == ["date", "mean_mm", "std_mm", "count"]
    assert len(rows) == len(DATES)
    assert {int(row["count"]) for row in rows} == {9}


def test_drawing_on_points_places_vertices_and_selects_nothing(
    page, live_server, transactional_db
) -> None:
    make_dataset("asc", lon=LON, lat=LAT, velocity=VELOCITY)
    open_map(page, live_server, "asc", 15)
    wait_for_points(page, "asc")
    page.click("#draw-area")
    # Vertices on the points of columns 0 and 3, rows 0 and 3 (index = column * 12 + row).
    for index in (0, 36, 39, 3, 0):
        click_location(page, LON[index], LAT[index])
        page.wait_for_timeout(150)
    count = page.wait_for_selector("#side-panel .area-count b")
    # The 2 x 2 inside for sure; the vertices' own points and the edges' lie on the boundary
    # up to a pixel of the mouse, in or out.
    assert 4 <= int(count.get_attribute("data-count")) <= 16
    assert page.locator("#side-panel .panel-title").inner_text().startswith("Area mean")
    assert page.evaluate("() => window.GroundMotion.viewer.selected") == []
    assert "points" not in hash_of(page)


def unique_counts(page: Page) -> tuple[int, int]:
    """(points drawn, points hidden) once every point's tile has been styled."""
    page.wait_for_function(
        "() => { const s = window.GroundMotion.viewer.layer.shownIds();"
        " return s.drawn.size + s.hidden.size === 144; }"
    )
    return tuple(
        page.evaluate(
            "() => { const s = window.GroundMotion.viewer.layer.shownIds();"
            " return [s.drawn.size, s.hidden.size]; }"
        )
    )


def test_filters_hide_points_outside_the_range_and_survive_a_reload(
    page, live_server, transactional_db
) -> None:
    asc = make_dataset("asc", lon=LON, lat=LAT, velocity=VELOCITY)
    first_rows = list(asc.points.order_by("id").values_list("id", flat=True))[::12]
    asc.points.filter(id__in=first_rows).update(temporal_coherence=0.5)  # 12 points, one a column
    open_map(page, live_server, "asc", 15)
    wait_for_points(page, "asc")
    everything = page.evaluate("() => window.GroundMotion.viewer.shown")
    assert everything["hidden"] == 0 and everything["low"] == -6 and everything["high"] == 5

    page.fill("#filter-vmin", "-2")
    page.fill("#filter-vmax", "3")
    page.wait_for_function("() => window.GroundMotion.viewer.shown.hidden > 0")
    page.wait_for_timeout(400)
    shown = page.evaluate("() => window.GroundMotion.viewer.shown")
    shot(page, "filters-range")
    assert shown["low"] == -2 and shown["high"] == 3
    # Six of the twelve columns pass (-2 .. 3): 72 of the 144 points, each counted once.
    assert unique_counts(page) == (72, 72)
    page.wait_for_function(
        "() => document.querySelector('#filters .filter-count').textContent"
        ".startsWith('72 of 144 points')"
    )
    state = hash_of(page)
    assert state["vmin"] == ["-2"] and state["vmax"] == ["3"]

    page.fill("#legend-range", "4")
    page.press("#legend-range", "Enter")
    page.check("#legend-invert")
    page.reload()
    page.wait_for_selector("body[data-viewer-ready=true]")
    wait_for_points(page, "asc")
    page.wait_for_timeout(300)
    assert page.input_value("#filter-vmin") == "-2" and page.input_value("#filter-vmax") == "3"
    assert page.input_value("#legend-range") == "4" and page.is_checked("#legend-invert")
    shown = page.evaluate("() => window.GroundMotion.viewer.shown")
    assert shown["hidden"] > 0 and shown["low"] == -2 and shown["high"] == 3
    assert unique_counts(page) == (72, 72)

    page.click("#filter-fast")
    page.wait_for_timeout(600)
    shown = page.evaluate("() => window.GroundMotion.viewer.shown")
    shot(page, "filters-fast-movers")
    assert hash_of(page)["amin"] == ["5"] and "vmin" not in hash_of(page)
    assert shown["low"] == -6 and shown["high"] == 5
    assert unique_counts(page) == (36, 108)  # |v| >= 5: the columns -6, -5 and 5
    click_location(page, LON[60], LAT[60])  # velocity 0: hidden, so no point to click
    page.wait_for_timeout(400)
    assert page.locator("#side-panel svg.series-chart").count() == 0

    page.click("#filter-clear")
    page.fill("#filter-cmin", "0.7")
    page.wait_for_function("() => window.GroundMotion.viewer.layer.shownIds().hidden.size > 0")
    assert unique_counts(page) == (132, 12)
    assert hash_of(page)["cmin"] == ["0.7"] and "amin" not in hash_of(page)


STATIONS = {
    "DAX1": (-1.050, 43.707),
    "DAX2": (-1.045, 43.705),
    "DAX3": (-1.040, 43.708),
    "FAR1": (-1.200, 43.800),
    "PAR1": (2.350, 48.850),
}


def make_network() -> None:
    network = GNSSNetwork.objects.create(slug="rgp", name="RGP", reference_frame="ETRF2000")
    for i, (code, (lon, lat)) in enumerate(STATIONS.items()):
        GNSSStation.objects.create(
            network=network,
            code=code,
            geom=f"SRID=4326;POINT({lon} {lat})",
            height=40.0 + i,
            velocity_east=0.5,
            velocity_north=0.1,
            velocity_up=-2.0,
            velocity_east_std=0.1,
            velocity_north_std=0.2,
            velocity_up_std=0.3,
        )


def inside(bbox: str) -> list[str]:
    west, south, east, north = (float(v) for v in bbox.split(","))
    return sorted(c for c, (x, y) in STATIONS.items() if west <= x <= east and south <= y <= north)


def wait_for_gnss_of_view(page: Page) -> dict:
    """The GNSS fetch of the map's current view, once its answer is on the map."""
    return page.wait_for_function("""() => {
        const viewer = window.GroundMotion.viewer;
        const box = window.GroundMotion.overlays.viewBox(viewer.map);
        return viewer.gnssFetches.filter((fetched) => fetched.bbox === box).at(-1);
    }""").json_value()


def test_gnss_stations_are_fetched_for_the_view_only(page, live_server, transactional_db) -> None:
    make_network()
    make_dataset("asc", lon=LON, lat=LAT, velocity=VELOCITY)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/gnss-stations/" in r.url else None)
    open_map(page, live_server, "asc", 15)
    fetched = wait_for_gnss_of_view(page)
    bounds = page.evaluate("() => window.GroundMotion.viewer.map.getBounds().toBBoxString()")
    assert np.allclose(
        [float(v) for v in fetched["bbox"].split(",")],
        [float(v) for v in bounds.split(",")],
        atol=1e-5,
    )
    assert all("bbox=" in url for url in requests)
    expected = inside(fetched["bbox"])
    assert expected == ["DAX1", "DAX2", "DAX3"]
    assert fetched["count"] == 3
    markers = page.evaluate("() => window.GroundMotion.viewer.gnssLayer.getLayers().length")
    assert markers == 3

    page.evaluate("() => { window.GroundMotion.viewer.gnssLayer.getLayers()[0].openPopup(); }")
    popup = page.wait_for_selector(".gnss-popup").inner_text()
    shot(page, "gnss-popup")
    assert "ETRF2000" in popup and "± 0.30" in popup and "height 40.0 m" in popup
    assert "no series stored" in popup

    page.evaluate("() => { window.GroundMotion.viewer.map.setView([48.85, 2.35], 12); }")
    fetched = wait_for_gnss_of_view(page)
    assert inside(fetched["bbox"]) == ["PAR1"] and fetched["count"] == 1

    page.uncheck("#show-gnss")
    before = len(requests)
    page.evaluate("() => { window.GroundMotion.viewer.map.setView([43.8, -1.2], 12); }")
    page.wait_for_timeout(800)
    assert len(requests) == before  # the overlay is off: no fetch
    page.check("#show-gnss")
    fetched = wait_for_gnss_of_view(page)
    assert fetched["count"] == len(inside(fetched["bbox"])) >= 1
