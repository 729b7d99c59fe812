"""A calibrate or decompose job over several chunks reports its progress in steps, through a
real Redis and a real Celery worker (the fault suite's worker, with a slowed second chunk)."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

import processing.products as products
from fixtures import demo_region
from groundmotion.models import ProcessingJob
from groundmotion.storage import copy_out
from processing.products import fit
from processing.tasks import run_job
from tests.faults.conftest import plan, send_to_worker, start_worker, wait_for_job  # noqa: F401

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
State = ProcessingJob.State
ASCENDING, DESCENDING = (track.slug for track in demo_region.TRACKS)
JOBS = {
    "calibrate": (
        {"dataset": ASCENDING, "gnss": "demo-gnss", "output": "steps-l2b"},
        "groundmotion.storage.copy_in:copy_series",
        "calibrated 1,000 of 3,000 points",
    ),
    "decompose": (
        {"ascending": ASCENDING, "descending": DESCENDING, "up": "s-up", "east": "s-east"},
        "processing.products.decompose:write_cells",
        "solved band 1 of",
    ),
}


@pytest.mark.parametrize("kind", list(JOBS))
def test_a_job_over_several_chunks_reports_intermediate_progress(
    kind,
    plan,  # noqa: F811
    start_worker,  # noqa: F811
    send_to_worker,  # noqa: F811
) -> None:
    call_command("make_demo", points=3000, seed=5, years=2.0, stdout=io.StringIO())
    parameters, second_chunk, first_message = JOBS[kind]
    # Chunks of 1,000 points (bands of 1,500): the second one waits 3 s, long enough to read
    # the progress the first one wrote.
    small = {
        "groundmotion.storage.copy_out:CHUNK_POINTS": 1000,
        "processing.products.decompose:BAND_POINTS": 1500,
    }
    plan.arm(second_chunk, "slow", after=2, seconds=3, **small)
    start_worker("prefork")
    job = ProcessingJob.objects.create(kind=kind, parameters=parameters)
    run_job.delay(job.pk)
    seen: list[tuple[float, str]] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state == State.RUNNING and (job.progress, job.message) not in seen:
            seen.append((job.progress, job.message))
        if job.state in (State.SUCCEEDED, State.FAILED):
            break
        time.sleep(0.1)
    assert job.state == State.SUCCEEDED, job.message
    assert plan.read()["fired"], "the job had a single chunk"
    steps = [(fraction, message) for fraction, message in seen if 0 < fraction < 1]
    assert any(message.startswith(first_message) for _, message in steps), seen
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and len(set(fractions)) >= 2, seen
    assert job.progress == 1.0


def test_a_small_dataset_is_still_read_in_about_ten_steps() -> None:
    assert products.step_points(50_000) == 5_000
    assert products.step_points(3_000_000) == copy_out.CHUNK_POINTS
    assert products.step_points(800) == products.MIN_STEP_POINTS


@pytest.mark.django_db
def test_a_fit_reports_progress_per_step_not_once() -> None:
    import numpy as np

    from tests.factories import make_dataset

    rng = np.random.default_rng(2)
    count = 12_000  # three steps of MIN_STEP_POINTS
    dataset = make_dataset(
        "steps",
        lon=rng.uniform(-1.1, -1.0, count),
        lat=rng.uniform(43.6, 43.7, count),
        velocity=rng.normal(0, 3, count),
    )
    seen: list[float] = []
    fit.fit_dataset(dataset, lambda fraction, message: seen.append(fraction))
    inside = [fraction for fraction in seen if 0 < fraction < 1]
    assert len(set(inside)) >= 2, seen
    assert seen == sorted(seen)
