"""The /map viewer end to end, in real headless Chromium (Playwright) against live_server."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client
from playwright.sync_api import Page

from tests.factories import DATES, make_dataset
from tests.viewer.browser import click_location, wait_for_idle_database, wait_for_points

pytestmark = [pytest.mark.browser]
# Two tracks on 12 x 12 grids 150 m apart, offset from each other, around Dax.
GRID = np.arange(12)
ASC_LON, ASC_LAT = np.repeat(-1.06 + GRID * 0.0019, 12), np.tile(43.70 + GRID * 0.00135, 12)
DESC_LON, DESC_LAT = ASC_LON + 0.0009, ASC_LAT + 0.0007


@pytest.fixture
def demo(transactional_db) -> dict:
    ascending = make_dataset("asc", lon=ASC_LON, lat=ASC_LAT, velocity=np.repeat(GRID - 6.0, 12))
    descending = make_dataset(
        "desc",
        lon=DESC_LON,
        lat=DESC_LAT,
        velocity=np.tile(GRID - 6.0, 12),
        pass_direction="descending",
    )
    return {"asc": ascending, "desc": descending}


@pytest.fixture
def page(browser, live_server, transactional_db):
    # Depends on the database so that the browser closes (and stops fetching tiles) before
    # the database is flushed: a flush racing a tile request deadlocks.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    page.goto("about:blank")
    context.close()
    wait_for_idle_database()


def open_map(page: Page, live_server, fragment: str = "") -> None:
    page.goto(f"{live_server.url}/map/{fragment}")
    page.wait_for_selector("body[data-viewer-ready=true]")


def painted_pixels(page: Page) -> int:
    """Non-transparent pixels over all dataset tile canvases."""
    return page.evaluate("""() => {
        let total = 0;
        document.querySelectorAll('#map canvas.leaflet-tile').forEach((canvas) => {
            const context = canvas.getContext("2d");
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) total += 1;
        });
        return total;
    }""")


def centre_fragment(zoom: int = 15, dataset: str = "asc") -> str:
    return f"#dataset={dataset}&lat={ASC_LAT.mean():.5f}&lon={ASC_LON.mean():.5f}&z={zoom}"


def test_the_map_draws_demo_points(page, live_server, demo) -> None:
    open_map(page, live_server, centre_fragment())
    wait_for_points(page, "asc")
    assert painted_pixels(page) > 500


def test_a_click_on_a_point_opens_its_chart_with_every_date(page, live_server, demo) -> None:
    open_map(page, live_server, centre_fragment(16))
    wait_for_points(page, "asc")
    click_location(page, ASC_LON[40], ASC_LAT[40])
    chart = page.wait_for_selector("#side-panel svg.series-chart")
    assert chart.get_attribute("data-dates") == str(len(DATES))
    assert page.locator("#side-panel .chart-points circle").count() == len(DATES)
    assert "ASC" in page.locator("#side-panel .panel-title").inner_text()
    click_location(page, ASC_LON[41], ASC_LAT[41], shift=True)
    page.wait_for_function(
        "() => document.querySelectorAll('#side-panel .point-list li').length == 2"
    )
    assert "points=" in page.url


def test_switching_layers_changes_the_rendered_features(page, live_server, demo) -> None:
    open_map(page, live_server, centre_fragment())
    wait_for_points(page, "asc")
    before = page.locator("#map").screenshot()
    page.select_option("#dataset-select", "desc")
    wait_for_points(page, "desc")
    assert page.locator("#map").screenshot() != before
    assert "dataset=desc" in page.url


def test_a_drawn_polygon_gives_the_mean_of_the_points_inside(page, live_server, demo) -> None:
    open_map(page, live_server, centre_fragment(15))
    wait_for_points(page, "asc")
    page.click("#draw-area")
    # A box around the first 3 x 3 points of the ascending grid.
    corners = [(-1.0610, 43.6990), (-1.0553, 43.6990), (-1.0553, 43.7034), (-1.0610, 43.7034)]
    for lon, lat in [*corners, corners[0]]:
        click_location(page, lon, lat)
        page.wait_for_timeout(150)
    count = page.wait_for_selector("#side-panel .area-count b")
    assert count.get_attribute("data-count") == "9"
    assert page.locator("#side-panel svg.series-chart").count() == 1


def test_the_url_restores_the_view_and_the_selected_point(page, live_server, demo) -> None:
    point_id = demo["desc"].points.order_by("id").values_list("id", flat=True)[5]
    open_map(page, live_server, centre_fragment(14, "desc") + f"&points={point_id}")
    assert page.locator("#dataset-select").input_value() == "desc"
    assert page.evaluate("() => window.GroundMotion.viewer.map.getZoom()") == 14
    centre = page.evaluate("() => window.GroundMotion.viewer.map.getCenter()")
    assert centre["lat"] == pytest.approx(ASC_LAT.mean(), abs=1e-4)
    page.wait_for_selector("#side-panel svg.series-chart")
    assert "DESC000005" in page.locator("#side-panel .panel-title").inner_text()


def test_search_by_pid_and_login_state(page, live_server, demo) -> None:
    open_map(page, live_server, centre_fragment(12))
    assert "Not signed in" in page.locator("#login-state").inner_text()
    page.fill("#search-text", "ASC000007")
    page.press("#search-text", "Enter")
    page.wait_for_selector("#side-panel svg.series-chart")
    assert page.evaluate("() => window.GroundMotion.viewer.map.getZoom()") >= 13


def test_a_signed_in_member_sees_the_login_state_and_restricted_layers(
    browser, live_server, demo, partners, member
) -> None:
    make_dataset("secret", visibility="restricted", groups=[partners], lon=ASC_LON, lat=ASC_LAT)
    client = Client()
    client.force_login(member)
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    try:
        open_map(page, live_server)
        assert "Signed in as member" in page.locator("#login-state").inner_text()
        options = page.locator("#dataset-select option").all_inner_texts()
        assert any("Secret" in option for option in options)
    finally:
        context.close()


def test_anonymous_users_do_not_get_restricted_layers(page, live_server, demo, partners) -> None:
    make_dataset("secret", visibility="restricted", groups=[partners], lon=ASC_LON, lat=ASC_LAT)
    open_map(page, live_server)
    options = page.locator("#dataset-select option").all_inner_texts()
    assert len(options) == 2
    assert not any("Secret" in option for option in options)


def test_search_text_is_shown_as_text_not_html(page, live_server, demo) -> None:
    open_map(page, live_server, centre_fragment(12))
    hostile = '<img src=x id=injected onerror="window.injected=1">'
    page.fill("#search-text", hostile)
    page.press("#search-text", "Enter")
    page.wait_for_selector("#side-panel .error")
    assert hostile in page.locator("#side-panel .error").inner_text()
    assert page.locator("#injected").count() == 0
    assert page.evaluate("() => window.injected") is None
