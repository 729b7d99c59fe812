"""Large downloads through the real worker: every format finishes with every row, and an
export killed or failing halfway leaves no file, no audit row and no running job."""

from __future__ import annotations

import csv
import datetime
import io
import time
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
from django.core.management import call_command

from fixtures import demo_region
from groundmotion.exports.writers import grid_indices
from groundmotion.models import Dataset, DownloadRecord, MeasurementPoint, ProcessingJob
from processing.products.decompose import decompose_datasets
from tests.faults.conftest import eventually, idle_transactions, wait_for_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
State = ProcessingJob.State
POINTS = 2500
SYNC_POINTS = 400  # far below the points of the area, so each download becomes a job
SMALL_CHUNKS = {"groundmotion.exports.stream:CHUNK_ROWS": 500}
ASCENDING, DESCENDING = (track.slug for track in demo_region.TRACKS)


@pytest.fixture
def demo(settings, member) -> dict[str, Dataset]:
    # The whole demo region in one area (as the worker, started with the same limit).
    settings.GROUNDMOTION = {
        **settings.GROUNDMOTION,
        "DOWNLOAD_SYNC_POINTS": SYNC_POINTS,
        "DOWNLOAD_MAX_AREA_KM2": 100_000,
    }
    call_command("make_demo", points=POINTS, seed=9, years=1.0, stdout=io.StringIO())
    return {slug: Dataset.objects.get(slug=slug) for slug in (ASCENDING, DESCENDING)}


def whole_bbox(dataset: Dataset) -> str:
    west, south, east, north = dataset.extent.extent
    return f"{west - 0.01},{south - 0.01},{east + 0.01},{north + 0.01}"


def request_export(client, dataset: Dataset, output: str) -> int:
    response = client.get(
        f"/api/downloads/{dataset.slug}/", {"output": output, "bbox": whole_bbox(dataset)}
    )
    assert response.status_code == 202, response.content
    return response.json()["job"]


def finished_export(client, member, plan, start_worker, dataset: Dataset, output: str):
    """An export job of the whole dataset, asked by member and run by a real worker in small
    chunks (no fault armed), once it has succeeded."""
    plan.write({"settings": SMALL_CHUNKS})
    start_worker("prefork")
    client.force_login(member)
    job = wait_for_job(request_export(client, dataset, output))
    assert job.state == State.SUCCEEDED, job.message
    return job


def fetch_file(client, job_id: int, tmp_path: Path, suffix: str) -> Path:
    summary = client.get(f"/api/downloads/jobs/{job_id}/").json()
    assert summary["state"] == "succeeded" and summary["progress"] == 1.0, summary
    assert summary["points_written"] == summary["point_count"]
    assert summary["expires_at"]
    response = client.get(summary["file"])
    assert response.status_code == 200
    path = tmp_path / f"download.{suffix}"
    path.write_bytes(b"".join(response.streaming_content))
    return path


def stored(dataset: Dataset) -> dict[str, tuple[float, float, float]]:
    rows = MeasurementPoint.objects.filter(dataset=dataset)
    return {
        pid: (velocity, geom.x, geom.y)
        for pid, velocity, geom in rows.values_list("pid", "velocity", "geom")
    }


def test_a_csv_download_above_the_sync_limit_finishes_with_every_row(
    client, demo, member, plan, start_worker, send_to_worker, tmp_path
) -> None:
    dataset = demo[ASCENDING]
    job = finished_export(client, member, plan, start_worker, dataset, "csv")
    rows = list(csv.DictReader(fetch_file(client, job.pk, tmp_path, "csv").open()))
    truth = stored(dataset)
    assert len(rows) == len(truth) == dataset.point_count
    assert {row["pid"] for row in rows} == set(truth)
    for row in rows:
        np.testing.assert_allclose(float(row["mean_velocity"]), truth[row["pid"]][0], atol=0.051)
    dates = [name for name in rows[0] if name.isdigit()]
    assert len(dates) == len(dataset.acquisition_dates)
    record = DownloadRecord.objects.get()
    assert record.point_count == len(truth) and record.byte_count > 0


def test_a_geopackage_download_above_the_sync_limit_finishes_with_every_row(
    client, demo, member, plan, start_worker, send_to_worker, tmp_path
) -> None:
    dataset = demo[DESCENDING]
    job = finished_export(client, member, plan, start_worker, dataset, "gpkg")
    frame = pyogrio.read_dataframe(fetch_file(client, job.pk, tmp_path, "gpkg"))
    truth = stored(dataset)
    assert len(frame) == len(truth) and set(frame["pid"]) == set(truth)
    expected = np.array([truth[pid][0] for pid in frame["pid"]])
    np.testing.assert_allclose(frame["mean_velocity"], expected, atol=1e-4)
    np.testing.assert_allclose(frame.geometry.x, [truth[pid][1] for pid in frame["pid"]])
    assert frame.crs.to_epsg() == 4326


def test_a_geotiff_download_above_the_sync_limit_holds_every_cell(
    client, demo, member, plan, start_worker, send_to_worker, tmp_path
) -> None:
    up, _ = decompose_datasets(
        demo[ASCENDING], demo[DESCENDING], up_slug="l3-up", east_slug="l3-east", cell_size=100
    )
    Dataset.objects.filter(pk=up.pk).update(status="published")
    up.refresh_from_db()
    assert up.point_count > SYNC_POINTS
    job = finished_export(client, member, plan, start_worker, up, "geotiff")
    with rasterio.open(fetch_file(client, job.pk, tmp_path, "tif")) as raster:
        grid = raster.read(1)
        left, top = raster.transform.c, raster.transform.f
        assert raster.crs.to_epsg() == 3035 and raster.tags(1)["units"] == "mm/yr"
    truth = stored(up)
    velocity = np.array([value[0] for value in truth.values()], dtype=np.float32)
    lon = np.array([value[1] for value in truth.values()])
    lat = np.array([value[2] for value in truth.values()])
    cells = grid_indices(lon, lat, 100.0)
    rows = round(top / 100) - 1 - cells[:, 1]
    columns = cells[:, 0] - round(left / 100)
    np.testing.assert_allclose(grid[rows, columns], velocity, atol=1e-4)
    assert np.isfinite(grid).sum() == len(truth)


@pytest.mark.parametrize("action", ["kill", "raise"])
@pytest.mark.parametrize("output", ["csv", "gpkg"])
def test_an_export_killed_in_its_second_chunk_leaves_nothing_and_the_next_one_succeeds(
    action, output, client, demo, member, plan, start_worker, send_to_worker, tmp_path, settings
) -> None:
    point = (
        "groundmotion.exports.writers:csv_rows"
        if output == "csv"
        else "groundmotion.storage.copy_out:take_rows"
    )
    plan.arm(point, action, after=2, **SMALL_CHUNKS)
    start_worker("prefork")
    client.force_login(member)
    dataset = demo[ASCENDING]
    started = time.monotonic()
    job = wait_for_job(request_export(client, dataset, output), seconds=60)
    assert plan.read()["fired"]
    assert job.state == State.FAILED
    assert time.monotonic() - started < 30
    expected = "worker running this job was lost" if action == "kill" else "injected fault"
    assert expected in job.message, job.message
    assert client.get(f"/api/downloads/jobs/{job.pk}/").json()["file"] is None
    eventually(lambda: list((Path(settings.MEDIA_ROOT) / "exports" / str(job.pk)).glob("*")))
    assert not DownloadRecord.objects.exists()  # nothing was delivered: no audit row
    eventually(idle_transactions)
    again = wait_for_job(request_export(client, dataset, output))
    assert again.state == State.SUCCEEDED, again.message
    assert DownloadRecord.objects.get().point_count == dataset.point_count


def test_an_expired_export_answers_410_and_its_file_is_removed(
    client, demo, member, plan, start_worker, send_to_worker, settings, tmp_path
) -> None:
    from downloads import jobs

    plan.write({"settings": SMALL_CHUNKS})
    start_worker("prefork")
    client.force_login(member)
    job = wait_for_job(request_export(client, demo[ASCENDING], "csv"))
    path = fetch_file(client, job.pk, tmp_path, "csv")
    assert path.stat().st_size > 0
    ProcessingJob.objects.filter(pk=job.pk).update(
        finished_at=job.finished_at - datetime.timedelta(hours=73)
    )
    summary = client.get(f"/api/downloads/jobs/{job.pk}/").json()
    assert summary["expired"] and summary["file"] is None
    assert client.get(f"/downloads/jobs/{job.pk}/file").status_code == 410
    assert jobs.remove_expired_exports() == 1
    assert not (Path(settings.MEDIA_ROOT) / "exports" / str(job.pk)).exists()
