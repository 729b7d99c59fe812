"""Shared care for the live-server browser tests: launching Chromium, and waiting for the
live server to go quiet before the database is flushed."""

from __future__ import annotations

import time

from django.db import connection
from playwright.sync_api import Page

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    """The system's headless Chromium, started through Playwright's sync API."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)


def wait_for_idle_database(timeout_s: float = 10.0) -> None:
    """Wait until no other session runs a query in the test database.

    A closed browser stops sending requests, but the live server may still be answering one;
    flushing the database under it deadlocks. Called before the test database is flushed.
    """
    deadline = time.monotonic() + timeout_s
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state NOT IN ('idle')"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)


def wait_for_points(page: Page, slug: str) -> None:
    """Until the layer has drawn features and loaded every tile of the view (GridLayer's
    isLoading): a click before then can meet a tile not drawn yet."""
    page.wait_for_function(
        f"() => (window.GroundMotion.viewer.styled['{slug}'] || 0) > 0"
        f" && window.GroundMotion.viewer.dataset === '{slug}'"
        " && !window.GroundMotion.viewer.layer.isLoading()"
    )
    page.wait_for_timeout(300)


def click_location(page: Page, lon: float, lat: float, shift: bool = False) -> None:
    point = page.evaluate(
        f"() => window.GroundMotion.viewer.map.latLngToContainerPoint([{lat}, {lon}])"
    )
    box = page.locator("#map").bounding_box()
    if shift:
        page.keyboard.down("Shift")
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    if shift:
        page.keyboard.up("Shift")
