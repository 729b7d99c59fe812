"""Fanned-out jobs on two real workers (w1 and w2, one pool process each), a real Redis and a
real beat running the reaper: chunks spread over both workers, a chunk whose pool process or
whole worker is SIGKILLed runs again (on the other worker when its own is gone), and the
result is the single-process one bit for bit. A chunk that keeps dying fails its job; a job
whose finishing step loses its worker fails and leaves the dataset as it was."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from groundmotion.models import ProcessingJob
from processing.models import JobChunk
from tests.faults.conftest import ROOT, environment, under_plan, wait_for_job
from tests.processing.test_fan_out import (
    ASCENDING,
    DESCENDING,
    assert_identical,
    export_job,
    forget_fit,
    make_demo,
    run,
    snapshot,
)
from tests.services import Worker, descendants

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
State = ProcessingJob.State
CHUNK_POINTS = 300  # 3000 points: ten chunks
FANNED_OUT = {
    "GROUNDMOTION_JOB_FANOUT_POINTS": "1",
    "GROUNDMOTION_JOB_CHUNK_POINTS": str(CHUNK_POINTS),
    "GROUNDMOTION_JOB_REAP_S": "1",
}
HOST = socket.gethostname()


@pytest.fixture
def start_workers(redis_url, plan, settings, tmp_path) -> Iterator[Callable[..., list[Worker]]]:
    """Start w1 and w2 (prefork, one pool process each) under the fault plan, and a beat
    that sends the reaper every second."""
    settings.MEDIA_ROOT = tmp_path / "media"
    started: list[Worker] = []
    beats: list[subprocess.Popen] = []

    def start(**extra: str) -> list[Worker]:
        env = environment(redis_url, settings.MEDIA_ROOT, **FANNED_OUT, **extra)
        for name in ("w1", "w2"):
            log = tmp_path / f"{name}.log"
            command = under_plan(
                plan,
                *("celery", "-A", "config", "worker", "--pool=prefork", "--concurrency=1"),
                *("--loglevel=INFO", f"--logfile={log}", f"--hostname={name}@%h"),
            )
            started.append(Worker(subprocess.Popen(command, cwd=ROOT, env=env), log))
        for worker in started:
            worker.wait_ready(60)
        schedule = tmp_path / "beat-schedule"
        beat = ["-A", "config", "beat", f"--schedule={schedule}", "--loglevel=WARNING"]
        beats.append(subprocess.Popen([sys.executable, "-m", "celery", *beat], cwd=ROOT, env=env))
        return started

    yield start
    for beat in beats:
        beat.terminate()
        beat.wait(30)
    for worker in started:
        worker.stop()


def read_plan(plan) -> dict:
    """The fault plan, once a worker is not halfway through rewriting it."""
    for _ in range(50):
        try:
            return plan.read()
        except json.JSONDecodeError:
            time.sleep(0.05)
    return plan.read()


def queue(kind: str, parameters: dict) -> ProcessingJob:
    from processing.tasks import run_job

    job = ProcessingJob.objects.create(kind=kind, parameters=parameters)
    run_job.delay(job.pk)
    return job


def expected_fit() -> dict[str, np.ndarray]:
    """The single-process fit (in this process; fan-out is off here), from blank fits."""
    make_demo()
    forget_fit(ASCENDING)
    assert run("fit", {"dataset": ASCENDING}).state == State.SUCCEEDED
    expected = snapshot(ASCENDING)
    forget_fit(ASCENDING)
    return expected


def chunks_of(job: ProcessingJob) -> list[JobChunk]:
    return list(JobChunk.objects.filter(fanout__job=job).defer("output"))


def assert_fit_succeeded(job: ProcessingJob, expected: dict[str, np.ndarray]) -> None:
    job = wait_for_job(job.pk, seconds=120)
    assert job.state == State.SUCCEEDED, job.message
    assert job.progress == 1.0
    assert_identical(snapshot(ASCENDING), expected)
    assert len(chunks_of(job)) == 10


def test_a_fit_spreads_over_both_workers_and_equals_the_single_process_fit(
    plan, start_workers, send_to_worker
) -> None:
    expected = expected_fit()
    start_workers()
    job = queue("fit", {"dataset": ASCENDING})
    assert_fit_succeeded(job, expected)
    chunks = chunks_of(job)
    assert {chunk.worker for chunk in chunks} == {f"w1@{HOST}", f"w2@{HOST}"}
    assert {chunk.attempts for chunk in chunks} == {1}


def test_a_chunk_whose_pool_process_is_killed_runs_again(
    plan, start_workers, send_to_worker
) -> None:
    expected = expected_fit()
    plan.arm("processing.fanout:compute_chunk", "kill", after=4)
    start_workers()
    job = queue("fit", {"dataset": ASCENDING})
    assert_fit_succeeded(job, expected)
    assert read_plan(plan)["fired"]
    [again] = [chunk for chunk in chunks_of(job) if chunk.attempts > 1]
    assert again.attempts == 2 and "SIGKILL" in again.lost, again.lost


def test_a_chunk_whose_whole_worker_is_killed_runs_on_the_other_worker(
    plan, start_workers, send_to_worker
) -> None:
    expected = expected_fit()
    plan.arm("processing.fanout:compute_chunk", "hang", after=4)
    workers = start_workers()
    job = queue("fit", {"dataset": ASCENDING})
    deadline = time.monotonic() + 60
    while not read_plan(plan).get("fired"):
        assert time.monotonic() < deadline, "the chunk never hung"
        time.sleep(0.1)
    hung_pid = read_plan(plan)["pid"]
    [victim] = [worker for worker in workers if hung_pid in descendants(worker.pid)]
    survivor = next(worker for worker in workers if worker is not victim)
    for pid in [victim.pid, *descendants(victim.pid)]:  # the whole worker, as a lost machine
        os.kill(pid, signal.SIGKILL)
    victim.process.wait(10)
    assert_fit_succeeded(job, expected)
    [again] = [chunk for chunk in chunks_of(job) if chunk.attempts > 1]
    name = "w1" if survivor is workers[0] else "w2"
    assert again.worker == f"{name}@{HOST}"
    assert "no heartbeat from" in again.lost, again.lost


def test_a_chunk_that_keeps_losing_its_worker_fails_the_job(
    plan, start_workers, send_to_worker
) -> None:
    make_demo()
    before = snapshot(ASCENDING)
    plan.arm("processing.fanout:compute_chunk", "kill", after=2)
    # The reaper would also find the chunk lost once its heartbeat is LOST_AFTER_S old; on a
    # loaded machine it may get there before the worker reports the SIGKILL. Waiting 30 s
    # leaves the report to the path this test is about.
    start_workers(GROUNDMOTION_JOB_CHUNK_ATTEMPTS="1", GROUNDMOTION_JOB_LOST_AFTER_S="30")
    job = wait_for_job(queue("fit", {"dataset": ASCENDING}).pk, seconds=60)
    assert job.state == State.FAILED
    assert "lost its worker 1 time, the last: " in job.message, job.message
    assert "SIGKILL" in job.message and " of 10 (ids " in job.message, job.message
    assert_identical(snapshot(ASCENDING), before)


def test_a_job_whose_finishing_step_loses_its_worker_fails_and_changes_nothing(
    plan, start_workers, send_to_worker
) -> None:
    make_demo()
    before = snapshot(ASCENDING)
    plan.arm("groundmotion.storage.copy_in:update_parameters", "kill", after=3)
    start_workers()
    job = wait_for_job(queue("fit", {"dataset": ASCENDING}).pk, seconds=60)
    assert read_plan(plan)["fired"]
    assert job.state == State.FAILED
    assert "worker running this job was lost" in job.message, job.message
    assert_identical(snapshot(ASCENDING), before)  # one transaction: nothing half written


def test_a_fanned_out_export_on_two_workers_is_the_same_file(
    plan, start_workers, send_to_worker, member, settings
) -> None:
    from downloads import jobs
    from downloads.tasks import run_export_task

    dataset = make_demo()
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "DOWNLOAD_MAX_AREA_KM2": 100_000}
    start_workers()
    settings.MEDIA_ROOT = settings.MEDIA_ROOT  # the workers' MEDIA_ROOT (fixture)
    single = export_job(member, dataset)
    jobs.run_export(single.pk)  # in this process: fan-out is off here
    single.refresh_from_db()
    assert single.state == State.SUCCEEDED, single.message
    job = export_job(member, dataset)
    run_export_task.delay(job.pk)
    job = wait_for_job(job.pk, seconds=120)
    assert job.state == State.SUCCEEDED, job.message
    chunks = chunks_of(job)
    assert len(chunks) == 10 and {chunk.worker for chunk in chunks} == {
        f"w1@{HOST}",
        f"w2@{HOST}",
    }
    got = jobs.result_path(job).read_bytes().split(b"\n")
    want = jobs.result_path(single).read_bytes().split(b"\n")
    diff = [(i, a, b) for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b]
    runs = [(chunk.number, chunk.attempts, chunk.worker, chunk.lost) for chunk in chunks]
    assert not diff, (len(got), len(want), len(diff), diff[:2], runs)
    assert jobs.result_path(job).read_bytes() == jobs.result_path(single).read_bytes()


PRODUCT_JOBS = {
    "calibrate": ({"dataset": ASCENDING, "gnss": "demo-gnss"}, {"output": "l2b"}),
    "decompose": (
        {"ascending": ASCENDING, "descending": DESCENDING, "grid": 500},
        {"up": "up", "east": "east"},
    ),
}


@pytest.mark.parametrize("kind", ["calibrate", "decompose"])
def test_a_product_job_on_two_workers_with_a_chunk_killed_equals_the_single_process_one(
    kind, plan, start_workers, send_to_worker
) -> None:
    """Calibrate (id ranges) and decompose (cell-row bands) fanned out over w1 and w2, the
    pool process of one chunk SIGKILLed: the drafts equal the single-process run's."""
    make_demo()
    common, outputs = PRODUCT_JOBS[kind]
    single = run(kind, common | {name: f"one-{slug}" for name, slug in outputs.items()})
    assert single.state == State.SUCCEEDED, single.message  # in this process: no fan-out
    plan.arm("processing.fanout:compute_chunk", "kill", after=3)
    start_workers()
    job = queue(kind, common | {name: f"many-{slug}" for name, slug in outputs.items()})
    job = wait_for_job(job.pk, seconds=180)
    assert job.state == State.SUCCEEDED, job.message
    assert read_plan(plan)["fired"] and job.progress == 1.0
    chunks = chunks_of(job)
    assert len(chunks) >= 5 and {chunk.worker for chunk in chunks} == {
        f"w1@{HOST}",
        f"w2@{HOST}",
    }
    [again] = [chunk for chunk in chunks if chunk.attempts > 1]
    assert "SIGKILL" in again.lost, again.lost
    for slug in outputs.values():
        expected, result = snapshot(f"one-{slug}"), snapshot(f"many-{slug}")
        assert len(result["velocity"]) > 100
        assert_identical(result, expected)
