"""Shared parts of the three journeys: the browser, signed-in contexts, the demo products,
and the screenshots of each step (to docs/journeys/ when GROUNDMOTION_JOURNEY_SCREENSHOTS
points there, else to the test's temporary folder)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import Page

from groundmotion.models import Dataset
from tests.faults.conftest import plan, send_to_worker, start_worker  # noqa: F401
from tests.viewer.browser import wait_for_idle_database
from tests.viewer.conftest import browser  # noqa: F401

DEMO_POINTS = 3000  # per track: decomposed on the 100 m grid, a few thousand L3 cells
DERIVED = ("demo-dax-asc-l2b", "demo-dax-desc-l2b", "demo-dax-l3-up", "demo-dax-l3-east")


class Steps:
    """Numbered screenshots of one journey: 01-search.png, 02-….png"""

    def __init__(self, folder: Path, journey: str) -> None:
        self.folder = folder
        self.journey = journey
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    def shot(self, page: Page, name: str, full_page: bool = False) -> Path:
        self.count += 1
        path = self.folder / f"{self.journey}-{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def steps(request, tmp_path) -> Steps:
    folder = os.environ.get("GROUNDMOTION_JOURNEY_SCREENSHOTS")
    journey = request.node.name.removeprefix("test_").split("_")[0]
    return Steps(Path(folder) if folder else tmp_path, journey)


@pytest.fixture
def open_page(browser, live_server, transactional_db):  # noqa: F811 (the imported fixture)
    """open_page(user=None) -> a page, signed in as user (a session cookie) when given."""
    contexts = []

    def open_for(user=None) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies["sessionid"].value
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        contexts.append(context)
        return context.new_page()

    yield open_for
    for context in contexts:
        for page in context.pages:
            page.goto("about:blank")
        context.close()
    wait_for_idle_database()


@pytest.fixture
def demo_products(transactional_db) -> dict[str, Dataset]:
    """The Dax demo's L2a tracks, calibrated (L2b) and decomposed (L3), all published."""
    out = io.StringIO()
    call_command("make_demo", points=DEMO_POINTS, seed=4, years=3.0, stdout=out)
    for track in ("asc", "desc"):
        call_command(
            "calibrate",
            f"demo-dax-{track}-l2a",
            gnss="demo-gnss",
            output=[f"demo-dax-{track}-l2b"],
            stdout=out,
        )
    call_command(
        "decompose",
        "demo-dax-asc-l2b",
        "demo-dax-desc-l2b",
        gnss="demo-gnss",
        up="demo-dax-l3-up",
        east="demo-dax-l3-east",
        stdout=out,
    )
    for slug in DERIVED:
        call_command("dataset", slug, publish=True, stdout=out)
    return {dataset.slug: dataset for dataset in Dataset.objects.all()}


def open_viewer(page: Page, live_server, fragment: str = "") -> None:
    page.goto(f"{live_server.url}/map/{fragment}")
    page.wait_for_selector("body[data-viewer-ready=true]")


def nearest_point(slug: str, lon: float, lat: float) -> tuple[int, str, float, float]:
    """(id, pid, lon, lat) of the dataset's point nearest a place."""
    from django.contrib.gis.db.models.functions import GeometryDistance
    from django.contrib.gis.geos import Point

    from groundmotion.models import MeasurementPoint

    point = (
        MeasurementPoint.objects.filter(dataset__slug=slug)
        .order_by(GeometryDistance("geom", Point(lon, lat, srid=4326)))
        .first()
    )
    return point.pk, point.pid, point.geom.x, point.geom.y


def search_place(page: Page, text: str) -> None:
    """Types a place name, waits for the list, takes the first with Enter."""
    page.fill("#search-text", text)
    page.wait_for_selector("#search-results li")
    page.press("#search-text", "Enter")
    page.wait_for_function("() => !window.GroundMotion.viewer.map._animatingZoom")
    page.wait_for_timeout(400)  # the fly-to's last frames and the tiles of the new view


def show_at(page: Page, lon: float, lat: float, zoom: int) -> None:
    page.evaluate(f"() => window.GroundMotion.viewer.map.setView([{lat}, {lon}], {zoom})")
