"""End to end in headless Chromium: sign in, draw a polygon, download it, find it in the admin."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User

from groundmotion.models import DownloadRecord, Level, Visibility
from tests.factories import make_dataset, make_user
from tests.viewer.browser import launch_chromium, wait_for_idle_database

PASSWORD = "a-long-password-1"
# Screenshots land in var/screenshots; GROUNDMOTION_SCREENSHOTS=docs refreshes the committed ones.
DOCS = settings.BASE_DIR / os.environ.get("GROUNDMOTION_SCREENSHOTS", "var/screenshots")


def sign_in(page, base: str, username: str, url: str) -> None:
    page.goto(f"{base}/accounts/login/?next={url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{url}")


def draw_square(page) -> None:
    """Draw a polygon around the map's centre with the Leaflet.draw tool."""
    page.click(".leaflet-draw-draw-polygon")
    box = page.locator("#download-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-60, -60), (60, -60), (60, 60), (-60, 60), (-60, -60)):
        page.mouse.click(cx + dx, cy + dy)
        page.wait_for_timeout(150)


@pytest.mark.browser
def test_sign_in_download_a_polygon_and_find_it_in_the_admin(live_server, monkeypatch, tmp_path):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop shares the thread
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    member = make_user("walker")
    group = member.groups.create(name="partners")
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(-1.09, -1.01, 400), rng.uniform(43.68, 43.74, 400)
    make_dataset(
        "dax-l2b",
        visibility=Visibility.RESTRICTED,
        groups=[group],
        lon=lon,
        lat=lat,
        velocity=rng.normal(0, 3, 400),
        level=Level.L2B,
    )
    auditor = make_user("auditor", curator=True, perms=["view_downloadrecord"])
    auditor.user_permissions.add(Permission.objects.get(codename="view_downloadrecord"))
    base = live_server.url
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
        sign_in(page, base, "walker", "/accounts/profile/")
        assert page.locator('tr[data-slug="dax-l2b"]').count() == 1  # the restricted dataset
        page.goto(f"{base}/downloads/?dataset=dax-l2b")
        page.wait_for_selector("#download-map[data-ready=true]")
        draw_square(page)
        polygon = page.input_value("#id_polygon")
        assert polygon.startswith("POLYGON((")
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / "download-dialog.png"), full_page=True)
        with page.expect_download() as download_info:
            page.click("#download-submit")
        saved = tmp_path / "download.csv"
        download_info.value.save_as(saved)
        page.context.clear_cookies()
        sign_in(page, base, "auditor", "/admin/groundmotion/downloadrecord/")
        assert "walker" in page.inner_text("#result_list")
        dataset_id = User.objects.get(username="walker").downloadrecord_set.get().datasets.get().pk
        page.goto(f"{base}/admin/groundmotion/dataset/{dataset_id}/change/")
        page.wait_for_selector(".leaflet-container")
        page.screenshot(path=str(DOCS / "admin-dataset.png"), full_page=True)
        browser.close()
    wait_for_idle_database()
    table = pd.read_csv(saved)
    record = DownloadRecord.objects.get()
    assert 0 < len(table) < 400 and record.point_count == len(table)
    assert record.area.geom_type == "Polygon" and record.byte_count == saved.stat().st_size
    assert table["longitude"].between(*record.area.extent[0::2]).all()
