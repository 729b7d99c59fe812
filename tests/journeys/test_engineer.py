"""The city engineer's journey: search a town, show only the fast movers, draw an area around
them, read its mean, and download its fast movers in the background (more than the
synchronous limit, a real Celery worker); GDAL counts what the estimate promised."""

from __future__ import annotations

import subprocess
import time

import pytest
from django.contrib.gis.geos import GEOSGeometry
from django.db.models import Q

from groundmotion.models import MeasurementPoint
from tests.factories import make_user
from tests.journeys.conftest import open_viewer, search_place
from tests.viewer.browser import wait_for_points

pytestmark = [pytest.mark.browser, pytest.mark.worker]
SYNC_POINTS = 100


def feature_count(path) -> int:
    info = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", str(path)], capture_output=True, text=True, check=True
    )
    (line,) = [line for line in info.stdout.splitlines() if line.startswith("Feature Count:")]
    return int(line.split(":")[1])


def draw_polygon_around_the_centre(page, half_px: int = 120) -> None:
    page.click("#draw-area")
    box = page.locator("#map").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    corners = [(-half_px, -half_px), (half_px, -half_px), (half_px, half_px), (-half_px, half_px)]
    for dx, dy in [*corners, corners[0]]:
        page.mouse.click(x + dx, y + dy)
        page.wait_for_timeout(150)


def test_engineer_finds_fast_movers_draws_an_area_and_downloads_it(
    open_page, live_server, demo_products, steps, settings, tmp_path, start_worker, send_to_worker
) -> None:
    settings.GROUNDMOTION = {
        **settings.GROUNDMOTION,
        "DOWNLOAD_SYNC_POINTS": SYNC_POINTS,
        "DOWNLOAD_MAX_AREA_KM2": 100_000,
    }
    start_worker("prefork")
    page = open_page(make_user("engineer"))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_viewer(page, live_server, "#dataset=demo-dax-desc-l2b&lat=43.50000&lon=-0.60000&z=10")
    search_place(page, "Dax")
    page.evaluate("() => window.GroundMotion.viewer.map.setZoom(14)")
    wait_for_points(page, "demo-dax-desc-l2b")
    steps.shot(page, "search")

    page.click("text=Fast movers")
    page.wait_for_function("() => location.hash.includes('amin=5')")
    page.wait_for_timeout(400)
    shown = page.evaluate("() => window.GroundMotion.viewer.shown")
    assert shown["drawn"] > 0 and shown["hidden"] > 0  # the bowl under Dax moves, not all else
    assert shown["low"] <= -5 or shown["high"] >= 5
    steps.shot(page, "fast-movers")

    draw_polygon_around_the_centre(page)
    page.wait_for_selector("#side-panel .area-count b[data-count]")
    in_area = int(page.get_attribute("#side-panel .area-count b", "data-count"))
    assert in_area > SYNC_POINTS
    assert "mm/yr" in page.inner_text("#side-panel .area-velocity")
    steps.shot(page, "area-mean")

    assert "as filtered" in page.inner_text("#side-panel a.area-download")
    page.click("#side-panel a.area-download")
    page.wait_for_selector("#download-map[data-ready=true]")
    page.wait_for_selector("#estimate-count")
    # The polygon and the map's filter came along: the points of the area moving 5 mm/yr or
    # more, counted here independently of the page.
    polygon = GEOSGeometry(page.input_value("#id_polygon"), srid=4326)
    fast = (
        MeasurementPoint.objects.filter(dataset__slug="demo-dax-desc-l2b", geom__within=polygon)
        .filter(Q(velocity__gte=5) | Q(velocity__lte=-5))
        .count()
    )
    assert page.input_value("#id_abs_velocity_min") == "5"
    assert "|velocity| ≥ 5 mm/yr" in page.inner_text("#estimate")
    assert int(page.get_attribute("#estimate-count", "data-count")) == fast
    assert SYNC_POINTS < fast < in_area
    assert page.get_attribute("#estimate-mode", "data-mode") == "background"
    page.select_option("#id_format", "gpkg")
    page.wait_for_timeout(1200)  # the map's fit to the polygon and that zoom's tiles
    steps.shot(page, "download-estimate", full_page=True)

    page.click("#download-submit")
    page.wait_for_selector("#job-text")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = page.get_attribute("#job-text", "data-state")
        if state in ("succeeded", "failed"):
            break
        page.wait_for_timeout(200)
    assert state == "succeeded", page.inner_text("#job-progress-box")
    steps.shot(page, "download-done", full_page=True)
    with page.expect_download() as download:
        page.click("#job-file")
    saved = tmp_path / "area.gpkg"
    download.value.save_as(saved)
    assert feature_count(saved) == fast
    assert not errors, errors
