"""Every long job path killed halfway, through a real Redis and real Celery workers.

For each path (fit, reference, calibrate, decompose, export) and fault (SIGKILL of the pool
process inside a chunk, an exception inside a chunk, SIGKILL of the whole worker), the
invariants: the job ends `failed` with a reason within a bound, no half product exists (the
source is unchanged, no output dataset), no transaction is left open, no staged table stays
after the next run, and the next run succeeds.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from django.core.management import call_command

from fixtures import demo_region
from groundmotion.models import Dataset, MeasurementPoint, ProcessingJob
from tests.faults.conftest import (
    LOST_AFTER_S,
    eventually,
    idle_transactions,
    staged_tables,
    wait_for_job,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
State = ProcessingJob.State
POINTS = 3000  # per track: three chunks of SMALL_CHUNK
SMALL_CHUNK = {
    "groundmotion.storage.copy_out:CHUNK_POINTS": 1000,
    "processing.products.decompose:BAND_POINTS": 1500,
}
ASCENDING, DESCENDING = (track.slug for track in demo_region.TRACKS)


@pytest.fixture
def demo() -> dict[str, Dataset]:
    call_command("make_demo", points=POINTS, seed=5, years=2.0, stdout=io.StringIO())
    return {slug: Dataset.objects.get(slug=slug) for slug in (ASCENDING, DESCENDING)}


def velocities(slug: str) -> np.ndarray:
    rows = MeasurementPoint.objects.filter(dataset__slug=slug).order_by("pid")
    return np.array(rows.values_list("velocity", flat=True), dtype=float)


JOBS = {
    "fit": {"dataset": ASCENDING},
    "reference": {
        "dataset": ASCENDING,
        "area": "POLYGON((-1.2 43.6,-0.9 43.6,-0.9 43.8,-1.2 43.8,-1.2 43.6))",
    },
    "calibrate": {"dataset": ASCENDING, "gnss": "demo-gnss", "output": "fault-l2b"},
    "decompose": {
        "ascending": ASCENDING,
        "descending": DESCENDING,
        "up": "fault-up",
        "east": "fault-east",
        "grid": 500,
    },
}
# Where each kind's second chunk is written.
CHUNK_POINT = {
    "fit": "groundmotion.storage.copy_in:update_parameters",
    "reference": "groundmotion.storage.copy_in:update_parameters",
    "calibrate": "groundmotion.storage.copy_in:copy_series",
    "decompose": "processing.products.decompose:write_cells",
}
OUTPUTS = {"calibrate": ["fault-l2b"], "decompose": ["fault-up", "fault-east"]}


def queue(kind: str) -> ProcessingJob:
    from processing.tasks import run_job

    job = ProcessingJob.objects.create(kind=kind, parameters=JOBS[kind])
    run_job.delay(job.pk)
    return job


def assert_nothing_half_done(kind: str, before: np.ndarray) -> None:
    assert not ProcessingJob.objects.filter(state=State.RUNNING).exists()
    np.testing.assert_array_equal(velocities(ASCENDING), before)  # the source is untouched
    assert not Dataset.objects.filter(slug__in=OUTPUTS.get(kind, [])).exists()
    eventually(idle_transactions)


def assert_next_run_succeeds(kind: str) -> None:
    job = wait_for_job(queue(kind).pk)
    assert job.state == State.SUCCEEDED, job.message
    assert staged_tables() == []  # the killed run's staged tables are gone too
    for slug in OUTPUTS.get(kind, []):
        assert Dataset.objects.get(slug=slug).point_count > 0


@pytest.mark.parametrize("kind", list(JOBS))
def test_a_job_whose_pool_process_is_killed_in_a_chunk_fails_at_once(
    kind, demo, plan, start_worker, send_to_worker
) -> None:
    plan.arm(CHUNK_POINT[kind], "kill", after=2, **SMALL_CHUNK)
    start_worker("prefork")
    before = velocities(ASCENDING)
    started = time.monotonic()
    job = wait_for_job(queue(kind).pk, seconds=60)
    assert plan.read()["fired"], "the fault never fired: the job had fewer chunks"
    assert job.state == State.FAILED
    assert "worker running this job was lost" in job.message, job.message
    assert time.monotonic() - started < 30  # by task_failure, not by the reaper
    assert job.progress > 0  # the first chunk was reported before the kill
    assert_nothing_half_done(kind, before)
    assert_next_run_succeeds(kind)  # the same worker, its pool process replaced


@pytest.mark.parametrize("kind", list(JOBS))
def test_a_job_whose_chunk_raises_fails_with_the_reason(
    kind, demo, plan, start_worker, send_to_worker
) -> None:
    plan.arm(CHUNK_POINT[kind], "raise", after=2, **SMALL_CHUNK)
    start_worker("prefork")
    before = velocities(ASCENDING)
    job = wait_for_job(queue(kind).pk, seconds=60)
    assert job.state == State.FAILED
    assert "InjectedFault: injected fault at" in job.message, job.message
    assert_nothing_half_done(kind, before)
    assert_next_run_succeeds(kind)


@pytest.mark.parametrize("kind", ["fit", "decompose"])
def test_a_job_whose_whole_worker_dies_is_reaped_and_runs_again(
    kind, demo, plan, start_worker, send_to_worker
) -> None:
    """A solo worker runs the job in its main process: killing it leaves nothing to report
    the loss (as when a machine is lost). The heartbeat stops; the next worker's reaper fails
    the job within JOB_LOST_AFTER_S."""
    plan.arm(CHUNK_POINT[kind], "kill", after=2, **SMALL_CHUNK)
    first = start_worker("solo")
    before = velocities(ASCENDING)
    job = queue(kind)
    first.process.wait(60)
    job.refresh_from_db()
    assert job.state == State.RUNNING  # nobody has noticed yet
    assert job.worker and job.heartbeat_at is not None
    time.sleep(LOST_AFTER_S + 1)
    start_worker("prefork")  # reaps at start
    job = wait_for_job(job.pk, seconds=30)
    assert job.state == State.FAILED
    assert "no heartbeat from" in job.message, job.message
    assert_nothing_half_done(kind, before)
    assert_next_run_succeeds(kind)


def test_the_heartbeat_keeps_a_slow_live_job_from_being_reaped(
    demo, plan, start_worker, send_to_worker
) -> None:
    """A chunk that takes longer than JOB_LOST_AFTER_S is alive, and is not reaped."""
    from processing import runs

    plan.arm(CHUNK_POINT["fit"], "slow", after=1, seconds=LOST_AFTER_S + 3, **SMALL_CHUNK)
    start_worker("prefork")
    job = queue("fit")
    deadline = time.monotonic() + 30
    while not plan.read().get("fired"):
        assert time.monotonic() < deadline, "the slow chunk never started"
        time.sleep(0.1)
    time.sleep(LOST_AFTER_S + 1)  # inside the slow chunk, past the silence bound
    assert runs.reap_lost_jobs() == []
    assert ProcessingJob.objects.get(pk=job.pk).state == State.RUNNING
    assert wait_for_job(job.pk).state == State.SUCCEEDED
