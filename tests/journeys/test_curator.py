"""The curator's journey: ingest an EGMS product, name it, publish it, see it on the map."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from groundmotion.models import Dataset, Status
from tests.egms_files import demo_track, egms_columns, egms_csv_text, write_zip
from tests.factories import make_user
from tests.journeys.conftest import open_viewer
from tests.viewer.browser import wait_for_points

pytestmark = [pytest.mark.browser]
POINTS = 2500


def test_curator_ingests_names_publishes_and_sees_the_layer(
    open_page, live_server, steps, tmp_path
) -> None:
    dates, chunk = demo_track(POINTS, years=2.0)
    path = write_zip(
        tmp_path / "EGMS_L2b_132_0282_IW2_VV_2021_2022_1.zip",
        egms_csv_text(egms_columns(chunk, "l2b", "2020"), chunk["series"], dates),
        "<BURST><track>132</track></BURST>",
    )
    out = io.StringIO()
    call_command("ingest", str(path), "--dataset", "dax-132", "--area", "Dax", stdout=out)
    dataset = Dataset.objects.get(slug="dax-132")
    # Named from the file, never the slug; a draft until published.
    assert dataset.name.startswith("Dax L2b ascending track 132, burst 0282 IW2")
    assert dataset.status == Status.DRAFT and dataset.point_count == POINTS

    curator = make_user("curator", curator=True)
    page = open_page(curator)
    page.goto(f"{live_server.url}/admin/groundmotion/dataset/")
    assert dataset.name in page.locator("#result_list").inner_text()
    steps.shot(page, "admin-list")

    page.goto(f"{live_server.url}/admin/groundmotion/dataset/{dataset.pk}/change/")
    page.wait_for_selector(".leaflet-container")
    page.locator(".leaflet-container").first.scroll_into_view_if_needed()
    page.wait_for_timeout(800)  # the base map and the dataset's cells
    steps.shot(page, "admin-dataset-map")
    new_name = "Dax centre, L2b ascending 132 (2021-2022)"
    page.fill("#id_name", new_name)
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist")
    dataset.refresh_from_db()
    assert dataset.name == new_name

    page.check(f"input[name=_selected_action][value='{dataset.pk}']")
    page.select_option("select[name=action]", "publish")
    page.click("button[name=index]")
    page.wait_for_selector("ul.messagelist")
    steps.shot(page, "admin-published")
    dataset.refresh_from_db()
    assert dataset.status == Status.PUBLISHED

    # Anyone now finds it on the map by its name, and its points are drawn.
    visitor = open_page()
    centre = f"#dataset=dax-132&lat={chunk['lat'].mean():.5f}&lon={chunk['lon'].mean():.5f}&z=11"
    open_viewer(visitor, live_server, centre)
    labels = visitor.locator("#dataset-select option").all_inner_texts()
    assert any(new_name in label for label in labels)
    wait_for_points(visitor, "dax-132")
    steps.shot(visitor, "map")
