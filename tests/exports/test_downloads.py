"""Downloads: trio-style access, clear refusals, limits, export jobs, formats and the audit."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyogrio
import pytest
from django.contrib.auth.models import User

from accounts.tokens import create_token
from downloads import jobs
from groundmotion.models import DownloadPolicy, DownloadRecord, Level, ProcessingJob, Visibility
from tests.factories import make_dataset

LON = np.linspace(-1.06, -1.04, 40)
LAT = np.linspace(43.70, 43.72, 40)
BBOX = "-1.07,43.69,-1.03,43.73"
URL = "/api/downloads/track/"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def track(partners):
    dataset = make_dataset(
        "track",
        visibility=Visibility.RESTRICTED,
        groups=[partners],
        lon=LON,
        lat=LAT,
        velocity=np.arange(40.0),
        level=Level.L2B,
    )
    return dataset


def test_a_member_downloads_a_polygon_as_csv(client, track, member) -> None:
    client.force_login(member)
    polygon = "POLYGON((-1.07 43.69, -1.05 43.69, -1.05 43.71, -1.07 43.71, -1.07 43.69))"
    response = client.get(URL, {"output": "csv", "polygon": polygon})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="track.csv"'
    table = pd.read_csv(io.BytesIO(body(response)))
    inside = (LON <= -1.05) & (LAT <= 43.71)
    assert len(table) == inside.sum()
    np.testing.assert_allclose(sorted(table["mean_velocity"]), np.arange(40.0)[inside])
    record = DownloadRecord.objects.get()
    assert record.user == member and list(record.datasets.all()) == [track]
    assert record.area.wkt.startswith("POLYGON") and record.format == "csv"


def test_an_outsider_gets_404_without_learning_the_dataset_exists(client, track, outsider):
    client.force_login(outsider)
    response = client.get(URL, {"output": "csv", "bbox": BBOX})
    assert response.status_code == 404
    assert client.get("/api/downloads/no-such/", {"bbox": BBOX}).content == response.content


def test_a_member_without_the_download_group_gets_403(client, track, member, others) -> None:
    track.download_policy = DownloadPolicy.GROUPS
    track.save(update_fields=["download_policy"])
    track.download_groups.set([others])
    client.force_login(member)
    response = client.get(URL, {"output": "csv", "bbox": BBOX})
    assert response.status_code == 403
    assert "download permission" in response.json()["detail"]


def test_anonymous_users_are_told_to_sign_in(client, track) -> None:
    response = client.get(URL, {"bbox": BBOX})
    assert response.status_code == 401 and response.json()["detail"] == "Sign in to download data."


def test_too_large_an_area_is_refused_with_its_size(client, track, member, settings) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "DOWNLOAD_MAX_AREA_KM2": 10}
    client.force_login(member)
    response = client.get(URL, {"bbox": BBOX})
    assert response.status_code == 400
    assert "too large" in response.json()["detail"] and "10 km²" in response.json()["detail"]
    assert not DownloadRecord.objects.exists()


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({}, "Give an area"),
        ({"bbox": "1,2"}, "four numbers"),
        ({"polygon": "POLYGON((0 0, 1 1))"}, "not valid"),
        ({"bbox": BBOX, "output": "xls"}, "Unknown format"),
        ({"bbox": BBOX, "output": "geotiff"}, "L3"),
    ],
)
def test_bad_requests_say_why(client, track, member, parameters, message) -> None:
    client.force_login(member)
    response = client.get(URL, parameters)
    assert response.status_code == 400 and message in response.json()["detail"]


def test_the_daily_request_limit_answers_429(client, track, member, settings) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "DOWNLOAD_DAILY_REQUESTS": 2}
    client.force_login(member)
    statuses = [client.get(URL, {"bbox": BBOX}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert DownloadRecord.objects.count() == 2


def test_the_daily_point_limit_counts_earlier_downloads(client, track, member, settings):
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "DOWNLOAD_DAILY_POINTS": 60}
    client.force_login(member)
    assert client.get(URL, {"bbox": BBOX}).status_code == 200  # 40 points
    response = client.get(URL, {"bbox": BBOX})
    assert response.status_code == 429 and "60 points" in response.json()["detail"]


def test_an_api_token_downloads_and_records_its_last_use(client, track, member) -> None:
    row, token = create_token(member, "nightly script")
    response = client.get(URL, {"bbox": BBOX}, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200 and len(pd.read_csv(io.BytesIO(body(response)))) == 40
    row.refresh_from_db()
    assert row.last_used_at is not None
    bad = client.get(URL, {"bbox": BBOX}, HTTP_AUTHORIZATION=f"Token {token}x")
    assert bad.status_code == 401


def test_geopackage_download_holds_the_points(client, track, member, tmp_path) -> None:
    client.force_login(member)
    response = client.post("/downloads/", {"dataset": "track", "format": "gpkg", "bbox": BBOX})
    assert response.status_code == 200
    path = tmp_path / "out.gpkg"
    path.write_bytes(body(response))
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == 40
    assert DownloadRecord.objects.get().byte_count == path.stat().st_size


def test_a_large_request_becomes_an_export_job_with_a_link(
    client, track, member, settings, django_capture_on_commit_callbacks
) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "DOWNLOAD_SYNC_POINTS": 10}
    settings.MEDIA_ROOT = settings.BASE_DIR / "var" / "test-media"
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/downloads/", {"dataset": "track", "format": "csv", "bbox": BBOX})
    job = ProcessingJob.objects.get(kind=ProcessingJob.Kind.EXPORT)
    assert response.status_code == 302 and response["Location"] == f"/downloads/jobs/{job.pk}/"
    assert job.state == ProcessingJob.State.SUCCEEDED and job.progress == 1.0
    page = client.get(response["Location"])
    assert page.status_code == 200 and f"/downloads/jobs/{job.pk}/file" in page.content.decode()
    table = pd.read_csv(io.BytesIO(body(client.get(f"/downloads/jobs/{job.pk}/file"))))
    assert len(table) == 40 and DownloadRecord.objects.get().point_count == 40
    status = client.get(f"/api/downloads/jobs/{job.pk}/").json()
    assert status["state"] == "succeeded" and status["file"].endswith("/file")


def test_someone_elses_export_job_is_404(client, track, member, registered) -> None:
    job = ProcessingJob.objects.create(kind=ProcessingJob.Kind.EXPORT, user=member)
    client.force_login(registered)
    assert client.get(f"/downloads/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/downloads/jobs/{job.pk}/file").status_code == 404
    assert client.get(f"/api/downloads/jobs/{job.pk}/").status_code == 404


def test_a_job_whose_user_lost_access_fails_cleanly(track, member, settings) -> None:
    settings.MEDIA_ROOT = settings.BASE_DIR / "var" / "test-media"
    job = ProcessingJob.objects.create(
        kind=ProcessingJob.Kind.EXPORT,
        user=member,
        parameters={"dataset": "track", "format": "csv", "bbox": BBOX, "polygon": ""},
    )
    User.objects.get(pk=member.pk).groups.clear()
    jobs.run_export(job.pk)
    job.refresh_from_db()
    assert job.state == ProcessingJob.State.FAILED and "Export failed" in job.message
    assert not DownloadRecord.objects.exists()
    jobs.run_export(job.pk)  # not queued any more: left alone
    assert ProcessingJob.objects.get(pk=job.pk).state == ProcessingJob.State.FAILED


def test_download_settings_are_validated(settings) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from downloads.apps import validate_download_settings

    validate_download_settings(settings.GROUNDMOTION)
    for bad in (0, "10", None):
        with pytest.raises(ImproperlyConfigured, match="DOWNLOAD_SYNC_POINTS"):
            validate_download_settings({**settings.GROUNDMOTION, "DOWNLOAD_SYNC_POINTS": bad})
