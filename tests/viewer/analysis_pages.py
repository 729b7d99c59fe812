"""What the analysis browser tests share: a 12 x 12 grid of points whose eastern half bends
(sinks faster from acquisition KINK on), three years of acquisitions, and helpers to open the
map, watch its requests and write the docs' screenshots (ANALYSIS_SCREENSHOTS=<dir>)."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
from playwright.sync_api import Page, Request

from groundmotion.models import Dataset
from tests.factories import DATES, make_dataset
from tests.viewer.browser import wait_for_points

SHOTS = os.environ.get("ANALYSIS_SCREENSHOTS")
GRID = np.arange(12)
LON, LAT = np.repeat(-1.06 + GRID * 0.0019, 12), np.tile(43.70 + GRID * 0.00135, 12)
VELOCITY = np.repeat(GRID - 6.0, 12)  # -6 .. 5 mm/yr by column
# Three years of acquisitions every 36 days (the factories' dates span half a year): long
# enough for a season, an acceleration and a period to mean something.
DAYS = [DATES[0] + datetime.timedelta(days=36 * i) for i in range(len(DATES))]
YEARS = np.array([(d - DAYS[0]).days / 365.25 for d in DAYS])
KINK = 15  # the eastern half sinks 8 mm/yr faster from this acquisition on
EXTRA = np.where(LON.mean() < LON, -8.0, 0.0)
SEASON = 3.0 * np.sin(2 * np.pi * YEARS)  # mm
NOISE = np.random.default_rng(15).normal(0, 0.8, (len(LON), len(DAYS)))
SERIES = (
    VELOCITY[:, None] * YEARS + EXTRA[:, None] * np.maximum(0, YEARS - YEARS[KINK]) + SEASON + NOISE
)


def make_bending_dataset() -> Dataset:
    """Dataset "asc": the grid, its stored velocities VELOCITY, its series SERIES at DAYS."""
    dataset = make_dataset("asc", lon=LON, lat=LAT, velocity=VELOCITY, series=SERIES)
    Dataset.objects.filter(pk=dataset.pk).update(acquisition_dates=DAYS)
    return Dataset.objects.get(pk=dataset.pk)


class Requests:
    """The requests the page made since it was watched (or cleared)."""

    def __init__(self, page: Page) -> None:
        self.seen: list[Request] = []
        page.on("request", lambda request: self.seen.append(request))

    def clear(self) -> None:
        self.seen.clear()

    def params(self, part: str) -> list[dict[str, list[str]]]:
        """Query parameters of every request whose URL holds `part`."""
        return [parse_qs(urlparse(r.url).query) for r in self.seen if part in r.url]


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def open_map(page: Page, live_server, extra: str = "", zoom: int = 15) -> None:
    fragment = f"#dataset=asc&lat={LAT.mean():.5f}&lon={LON.mean():.5f}&z={zoom}{extra}"
    page.goto(f"{live_server.url}/map/{fragment}")
    page.wait_for_selector("body[data-viewer-ready=true]")
    wait_for_points(page, "asc")


def hash_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).fragment)


def point_id(dataset: Dataset, index: int) -> int:
    return dataset.points.order_by("id").values_list("id", flat=True)[index]
