"""processing/runs.py: progress a person can read, once per chunk, and the reaper's rules."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
from django.utils import timezone

from groundmotion.models import ProcessingJob
from groundmotion.storage import copy_out
from processing import runs
from processing.tasks import run_job
from tests.factories import make_dataset

State = ProcessingJob.State
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def recorded(monkeypatch) -> list[tuple[float, str]]:
    """Every progress report, as written (the real writer still runs)."""
    reports: list[tuple[float, str]] = []
    write = runs.Progress.__call__

    def record(self, fraction: float, message: str) -> None:
        reports.append((fraction, message))
        write(self, fraction, message)

    monkeypatch.setattr(runs.Progress, "__call__", record)
    return reports


def test_a_fit_reports_each_chunk_in_points(recorded, monkeypatch) -> None:
    monkeypatch.setattr(copy_out, "CHUNK_POINTS", 10)
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-1.1, -1.0, 35), rng.uniform(43.7, 43.8, 35)
    dataset = make_dataset("runs", lon=lon, lat=lat, velocity=rng.normal(0, 3, 35))
    job = ProcessingJob.objects.create(kind="fit", parameters={"dataset": dataset.slug})
    assert run_job(job.pk) == State.SUCCEEDED
    assert [message for _, message in recorded] == [
        "fitted 10 of 35 points",
        "fitted 20 of 35 points",
        "fitted 30 of 35 points",
        "fitted 35 of 35 points",
    ]
    fractions = [fraction for fraction, _ in recorded]
    assert fractions == sorted(fractions) and 0 < fractions[0] < fractions[-2] < 1
    job.refresh_from_db()
    assert job.progress == 1.0 and job.state == State.SUCCEEDED and job.heartbeat_at


def running_job(seconds_silent: float) -> ProcessingJob:
    heartbeat = timezone.now() - datetime.timedelta(seconds=seconds_silent)
    return ProcessingJob.objects.create(
        kind="fit", state=State.RUNNING, heartbeat_at=heartbeat, worker="celery@lost pid 9"
    )


def test_the_reaper_fails_only_running_jobs_silent_past_the_bound(settings) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "JOB_LOST_AFTER_S": 60}
    silent, alive = running_job(61), running_job(59)
    finished = ProcessingJob.objects.create(
        kind="fit", state=State.SUCCEEDED, heartbeat_at=silent.heartbeat_at
    )
    assert runs.reap_lost_jobs() == [silent.pk]
    silent.refresh_from_db()
    assert silent.state == State.FAILED and silent.finished_at
    assert "no heartbeat from celery@lost pid 9 since" in silent.message
    for job in (alive, finished):
        state = job.state
        job.refresh_from_db()
        assert job.state == state


def test_a_finished_job_is_never_revived_or_failed_late() -> None:
    job = ProcessingJob.objects.create(kind="fit", state=State.SUCCEEDED, progress=1.0)
    assert not runs.fail_lost_job(job.pk, "too late")
    runs.Progress(job.pk)(0.5, "late")
    job.refresh_from_db()
    assert (job.state, job.progress, job.message) == (State.SUCCEEDED, 1.0, "")


def test_a_queued_job_is_claimed_once() -> None:
    job = ProcessingJob.objects.create(kind="fit")
    assert runs.claim(job.pk) and not runs.claim(job.pk)
    job.refresh_from_db()
    assert job.state == State.RUNNING and job.worker and job.heartbeat_at
