"""The download page in Chromium (Celery eager, as the suite runs it): the typed bbox drawn and
estimated, the map following the chosen dataset, refusals that name the field, and a failed
background export said plainly."""

from __future__ import annotations

import os

import numpy as np
import pytest
from django.conf import settings

from groundmotion.models import Level
from tests.factories import make_dataset, make_user
from tests.viewer.browser import launch_chromium, wait_for_idle_database

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = settings.BASE_DIR / os.environ.get("GROUNDMOTION_SCREENSHOTS", "var/screenshots")
rng = np.random.default_rng(8)


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/?next=/downloads/")
    page.fill("#id_username", "engineer")
    page.fill("#id_password", "a-long-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/downloads/")
    page.wait_for_selector("#download-map[data-ready=true]")


def map_bounds(page) -> list[float]:
    return page.evaluate(
        "(() => { const b = GroundMotion.downloadDialog.map.getBounds();"
        " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()"
    )


def test_typed_areas_switching_datasets_refusals_and_a_failed_export(
    live_server, monkeypatch, settings
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "DOWNLOAD_SYNC_POINTS": 50}
    settings.MEDIA_ROOT = settings.BASE_DIR / "var" / "test-media"
    west = make_dataset(
        "west-track",
        lon=rng.uniform(-1.10, -1.08, 120),
        lat=rng.uniform(43.70, 43.72, 120),
        level=Level.L2B,
    )
    east = make_dataset(
        "east-track",
        lon=rng.uniform(2.30, 2.32, 80),
        lat=rng.uniform(48.85, 48.87, 80),
        pass_direction="descending",
    )
    make_user("engineer")

    def failing_export(*args, **kwargs):
        raise OSError("No space left on device")

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in(page, live_server.url)
        page.select_option("#id_dataset", "east-track")
        page.wait_for_timeout(500)
        w, s, e, n = map_bounds(page)
        assert w <= 2.30 and e >= 2.32 and s <= 48.85 and n >= 48.87 and e - w < 1
        page.select_option("#id_dataset", "west-track")
        page.wait_for_timeout(500)
        w, s, e, n = map_bounds(page)
        assert w <= -1.10 and e >= -1.08 and e - w < 1  # followed the dataset
        assert page.locator("#id_dataset option").all_inner_texts() == [
            "East Track · L2a · LOS descending",
            "West Track · L2b · LOS ascending",
        ]

        page.fill("#id_bbox", "-1.11,43.69,-1.09,43.73")
        page.wait_for_selector("#estimate-count")
        page.wait_for_timeout(300)
        count = int(page.get_attribute("#estimate-count", "data-count"))
        assert 0 < count < 120
        # The typed bbox is drawn: one rectangle in the overlay pane besides the extent.
        assert page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() >= 1
        page.screenshot(path=str(SHOTS / "download-typed-bbox.png"), full_page=True)

        page.fill("#id_bbox", "-1,44,-2,43")
        page.wait_for_selector("#estimate .error")
        assert "(bbox)" in page.inner_text("#estimate")
        page.fill("#id_bbox", "-20,30,20,60")
        page.wait_for_function(
            "document.getElementById('estimate').textContent.includes('too large')"
        )
        assert "km²" in page.inner_text("#estimate")
        page.screenshot(path=str(SHOTS / "download-refused.png"), full_page=True)

        monkeypatch.setattr("downloads.jobs.write_export", failing_export)
        page.fill("#id_bbox", "-1.2,43.6,-1.0,43.8")
        page.wait_for_selector("#estimate-mode[data-mode=background]")
        page.click("#download-submit")
        page.wait_for_selector("#job-error")
        assert "No space left on device" in page.inner_text("#job-error")
        assert page.inner_text("#job-error").count("No space left") == 1
        assert page.get_attribute("#job-text", "data-state") == "failed"
        # The past downloads list follows without a reload.
        page.wait_for_selector("#past-downloads tr[data-state=failed]")
        page.screenshot(path=str(SHOTS / "download-failed.png"), full_page=True)
        assert not errors, errors
        browser.close()
    assert east.pk and west.pk
    wait_for_idle_database()


def test_the_job_page_follows_the_job_api_until_it_ends(live_server, monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    from groundmotion.models import ProcessingJob

    make_dataset("west-track", lon=[-1.09], lat=[43.71])
    engineer = make_user("engineer")
    job = ProcessingJob.objects.create(
        kind=ProcessingJob.Kind.EXPORT,
        user=engineer,
        state=ProcessingJob.State.RUNNING,
        progress=0.3,
        message="written 30 of 100 points",
        parameters={"dataset": "west-track", "format": "csv", "point_count": 100},
    )
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1000, "height": 600})
        page.goto(f"{live_server.url}/accounts/login/?next=/downloads/jobs/{job.pk}/")
        page.fill("#id_username", "engineer")
        page.fill("#id_password", "a-long-password-1")
        page.click("button[type=submit]")
        page.wait_for_selector("#job-line")
        assert "West Track" in page.inner_text("main")
        page.wait_for_function("document.getElementById('job-line').textContent.startsWith('30 %')")
        ProcessingJob.objects.filter(pk=job.pk).update(
            progress=0.7, message="written 70 of 100 points"
        )
        page.wait_for_function("document.getElementById('job-line').textContent.startsWith('70 %')")
        assert page.evaluate("document.getElementById('job-progress').value") == pytest.approx(0.7)
        page.screenshot(path=str(SHOTS / "download-job-page.png"), full_page=True)
        ProcessingJob.objects.filter(pk=job.pk).update(
            state=ProcessingJob.State.FAILED, message="Export failed: worker lost"
        )
        page.wait_for_selector("p.error[role=alert]")  # reloaded once the job ended
        assert "worker lost" in page.inner_text("main") and page.locator("#job-line").count() == 0
        browser.close()
    wait_for_idle_database()
