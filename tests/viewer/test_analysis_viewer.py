"""The map's analysis controls in real headless Chromium against live_server: the period slider,
"set as reference" and the changes layer, each in the URL and in the tile and API requests it
makes, and kept by a reload. Screenshots: see tests/viewer/analysis_pages.py."""

from __future__ import annotations

import datetime
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page

from groundmotion.models import Dataset
from tests.viewer.analysis_pages import (
    DAYS,
    KINK,
    LAT,
    LON,
    Requests,
    hash_of,
    make_bending_dataset,
    open_map,
    point_id,
    shot,
)
from tests.viewer.browser import wait_for_idle_database, wait_for_points

pytestmark = [pytest.mark.browser]


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


def set_period(page: Page, first: int, second: int) -> None:
    page.wait_for_function(
        f"() => Number(document.getElementById('period-end').max) === {len(DAYS) - 1}"
    )
    page.locator("#period-start").fill(str(first))
    page.locator("#period-end").fill(str(second))


def test_the_period_slider_asks_tiles_for_the_period_and_a_reload_keeps_it(
    page, live_server, asc
) -> None:
    open_map(page, live_server)
    requests = Requests(page)
    set_period(page, KINK, 28)  # after the bend: the eastern half sinks faster
    start, end = DAYS[KINK].isoformat(), DAYS[28].isoformat()
    page.wait_for_function(f"() => location.hash.includes('end={end}')")
    wait_for_points(page, "asc")
    assert hash_of(page)["start"] == [start] and hash_of(page)["end"] == [end]
    tiles = requests.params("/tiles/asc/")
    assert tiles and all(t.get("start") == [start] and t.get("end") == [end] for t in tiles)
    legend = page.locator("#legend .legend-analysis").inner_text()
    assert legend == f"velocity {start} \u2013 {end}"
    assert page.locator("#period-label").inner_text() == f"{start} \u2013 {end}"
    # The tiles' velocities are the period's: the eastern half's 0 .. 5 mm/yr less 8 after the bend.
    lowest = page.evaluate("() => window.GroundMotion.viewer.shown.low")
    assert lowest < -7
    shot(page, "period-map")

    requests.clear()
    page.reload()
    page.wait_for_selector("body[data-viewer-ready=true]")
    wait_for_points(page, "asc")
    assert page.locator("#legend .legend-analysis").inner_text() == legend
    assert page.locator("#period-start").input_value() == str(KINK)
    assert page.locator("#period-end").input_value() == "28"
    assert all(t.get("start") == [start] for t in requests.params("/tiles/asc/"))

    requests.clear()
    page.click("#period-whole")
    page.wait_for_function("() => !location.hash.includes('start=')")
    wait_for_points(page, "asc")
    assert page.locator("#legend .legend-analysis").count() == 0
    assert page.evaluate("() => window.GroundMotion.viewer.shown.low") == -6  # stored again
    assert requests.params("/tiles/asc/") and all(
        "start" not in t for t in requests.params("/tiles/asc/")
    )


def test_a_period_keeps_three_acquisitions_at_least(page, live_server, asc) -> None:
    open_map(page, live_server)
    set_period(page, 10, 10)
    page.wait_for_function("() => location.hash.includes('start=')")
    state = hash_of(page)
    first = DAYS.index(datetime.date.fromisoformat(state["start"][0]))
    second = DAYS.index(datetime.date.fromisoformat(state["end"][0]))
    assert second - first == 2


def test_set_as_reference_goes_into_the_url_the_tiles_the_point_and_its_links(
    page, live_server, asc
) -> None:
    reference, other = point_id(asc, 101), point_id(asc, 29)  # 2 and -4 mm/yr stored
    open_map(page, live_server, f"&points={reference}")
    page.wait_for_selector("#side-panel .reference-set")
    requests = Requests(page)
    page.click("#side-panel .reference-set")
    page.wait_for_function(f"() => location.hash.includes('reference={reference}')")
    page.wait_for_selector("#side-panel .reference-remove")
    wait_for_points(page, "asc")
    page.wait_for_selector(".reference-marker")
    tiles = requests.params("/tiles/asc/")
    assert tiles and all(t.get("reference") == [str(reference)] for t in tiles)
    details = requests.params(f"/api/points/{reference}/?")
    assert details and all(d.get("reference") == [str(reference)] for d in details)
    assert page.locator("#legend .legend-analysis").inner_text() == "relative to point ASC000101"
    assert "Relative to point ASC000101" in page.locator("#reference-line").inner_text()
    marker = page.evaluate("() => window.GroundMotion.viewer.referenceMarker.getLatLng()")
    assert marker == pytest.approx({"lat": LAT[101], "lng": LON[101]}, abs=1e-6)

    # Another point: its velocity minus the reference's, its links and chart re-referenced.
    page.evaluate(f"() => window.GroundMotion.viewer.select([{other}], false)")
    page.wait_for_selector("#side-panel .reference-set")
    page.wait_for_selector("#side-panel .model-parameters tr[data-name=velocity]")
    reference_line = page.locator("#side-panel .point-reference").inner_text()
    assert reference_line == "Relative to point ASC000101 (2.00 mm/yr): velocity -6.00 mm/yr."
    for link in page.locator("#side-panel .point-list a").all():
        query = parse_qs(urlparse(link.get_attribute("href")).query)
        assert query["reference"] == [str(reference)]
    assert requests.params(f"/api/points/{other}/model/")[-1]["reference"] == [str(reference)]
    shot(page, "reference-map")

    page.reload()
    page.wait_for_selector("body[data-viewer-ready=true]")
    page.wait_for_selector(".reference-marker")
    assert "Relative to point ASC000101" in page.locator("#reference-line").inner_text()

    page.click("#reference-remove")
    page.wait_for_function("() => !location.hash.includes('reference=')")
    assert page.locator(".reference-marker").count() == 0
    assert page.locator("#legend .legend-analysis").count() == 0


def test_the_changes_layer_needs_a_period_then_asks_tiles_for_changes(
    page, live_server, asc
) -> None:
    open_map(page, live_server)
    page.click("#changes-toggle")  # it does not stay checked
    assert "Choose a period first" in page.locator("#changes-note").inner_text()
    assert not page.locator("#changes-toggle").is_checked()
    assert "changes" not in hash_of(page)

    set_period(page, KINK, len(DAYS) - 1)
    page.wait_for_function("() => location.hash.includes('start=')")
    requests = Requests(page)
    page.check("#changes-toggle")
    page.wait_for_function("() => location.hash.includes('changes=2')")
    wait_for_points(page, "asc")
    tiles = requests.params("/tiles/asc/")
    assert tiles and all(
        t.get("changes") == ["2"] and t.get("start") == [DAYS[KINK].isoformat()] for t in tiles
    )
    title = page.locator("#legend .legend-title").inner_text()
    assert title == "period \u2212 whole-window velocity (mm/yr)"
    shot(page, "changes-map")

    page.reload()
    page.wait_for_selector("body[data-viewer-ready=true]")
    assert page.locator("#changes-toggle").is_checked()
    assert page.locator("#legend .legend-title").inner_text() == title
