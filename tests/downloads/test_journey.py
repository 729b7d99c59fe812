"""The download journey in Chromium, with a real Celery worker: a city engineer chooses a
dataset by name, draws a rectangle, reads the count and size, downloads in the background
(more points than the synchronous limit), watches the progress move, gets the file and finds
it among the past downloads; GDAL opens the file and counts the estimated points."""

from __future__ import annotations

import io
import os
import subprocess
import time

import pytest
from django.conf import settings
from django.core.management import call_command

from fixtures import demo_region
from groundmotion.models import Dataset, ProcessingJob
from tests.factories import make_user
from tests.viewer.browser import launch_chromium, wait_for_idle_database

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-password-1"
POINTS = 2500
SYNC_POINTS = 400  # far below the area's points: the download becomes an export job
SHOTS = settings.BASE_DIR / os.environ.get("GROUNDMOTION_SCREENSHOTS", "var/screenshots")


def sign_in(page, base: str, username: str, url: str) -> None:
    page.goto(f"{base}/accounts/login/?next={url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{url}")


def draw_rectangle_over_the_map(page) -> None:
    """The map has just fitted the dataset's extent: a rectangle over nearly all of it."""
    page.click(".leaflet-draw-draw-rectangle")
    box = page.locator("#download-map").bounding_box()
    page.mouse.move(box["x"] + 8, box["y"] + 8)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 8, box["y"] + box["height"] - 8, steps=8)
    page.mouse.up()


def feature_count(path) -> int:
    """The file's feature count, as GDAL's ogrinfo reports it."""
    info = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", str(path)], capture_output=True, text=True, check=True
    )
    (line,) = [line for line in info.stdout.splitlines() if line.startswith("Feature Count:")]
    return int(line.split(":")[1])


def test_download_an_area_in_the_background_and_find_it_again(
    live_server, monkeypatch, settings, tmp_path, plan, start_worker, send_to_worker
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop shares the thread
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    settings.GROUNDMOTION = {
        **settings.GROUNDMOTION,
        "DOWNLOAD_SYNC_POINTS": SYNC_POINTS,
        "DOWNLOAD_MAX_AREA_KM2": 100_000,
    }
    call_command("make_demo", points=POINTS, seed=4, years=1.0, stdout=io.StringIO())
    dataset = Dataset.objects.get(slug=demo_region.TRACKS[1].slug)
    make_user("engineer")
    # Chunks of 500 points, and the second one held 3 s: progress must be seen between 0 and 1.
    plan.arm("groundmotion.storage.copy_out:take_rows", "slow", after=2, seconds=3)
    plan.write({**plan.read(), "settings": {"groundmotion.exports.stream:CHUNK_ROWS": 500}})
    start_worker("prefork")
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1300, "height": 900}, accept_downloads=True)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in(page, base, "engineer", "/downloads/")
        page.wait_for_selector("#download-map[data-ready=true]")
        labels = page.locator("#id_dataset option").all_inner_texts()
        assert dataset.name in " ".join(labels) and dataset.slug not in " ".join(labels)
        label = next(text for text in labels if text.startswith(dataset.name))
        page.select_option("#id_dataset", label=label)
        page.wait_for_function(
            f"document.getElementById('download-map').dataset.dataset === '{dataset.slug}'"
        )
        assert "towards the satellite" in page.inner_text("#sign-note")
        page.wait_for_timeout(800)  # the fit to the extent and the first tiles
        draw_rectangle_over_the_map(page)
        page.wait_for_selector("#estimate-count")
        count = int(page.get_attribute("#estimate-count", "data-count"))
        assert count > SYNC_POINTS
        assert page.get_attribute("#estimate-mode", "data-mode") == "background"
        assert "MB" in page.inner_text("#estimate") or "kB" in page.inner_text("#estimate")
        page.select_option("#id_format", "gpkg")
        page.screenshot(path=str(SHOTS / "download-estimate.png"), full_page=True)

        page.click("#download-submit")
        page.wait_for_selector("#job-text")
        seen: list[float] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            state = page.get_attribute("#job-text", "data-state")
            progress = float(page.get_attribute("#job-text", "data-progress") or 0)
            if not seen or seen[-1] != progress:
                seen.append(progress)
                if 0 < progress < 1:
                    page.screenshot(path=str(SHOTS / "download-progress.png"), full_page=True)
            if state in ("succeeded", "failed"):
                break
            page.wait_for_timeout(150)
        assert state == "succeeded", page.inner_text("#job-progress-box")
        assert any(0 < value < 1 for value in seen), seen  # steps, not 0 -> 1
        assert seen == sorted(seen) and seen[-1] == 1.0
        assert "written" in page.inner_text("#job-progress-box") or seen[-1] == 1.0
        page.screenshot(path=str(SHOTS / "download-done.png"), full_page=True)
        with page.expect_download() as download_info:
            page.click("#job-file")
        saved = tmp_path / "area.gpkg"
        download_info.value.save_as(saved)
        assert feature_count(saved) == count

        job = ProcessingJob.objects.get(kind=ProcessingJob.Kind.EXPORT)
        page.goto(f"{base}/downloads/")
        row = page.locator(f"#past-downloads tr[data-job='{job.pk}']")
        assert row.count() == 1
        text = row.inner_text()
        assert dataset.name in text and "gpkg" in text and f"{count:,}" in text
        assert row.locator("a.past-file").get_attribute("href") == f"/downloads/jobs/{job.pk}/file"
        page.screenshot(path=str(SHOTS / "download-history.png"), full_page=True)
        assert not errors, errors
        browser.close()
    wait_for_idle_database()
