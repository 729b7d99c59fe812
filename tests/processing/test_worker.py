"""One job through a real Redis and a real `celery -A config worker` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from celery.result import EagerResult

from groundmotion.models import ProcessingJob
from processing.tasks import run_job
from tests.factories import make_dataset
from tests.services import database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(redis_url, settings):
    environment = {**os.environ, "CELERY_BROKER_URL": redis_url, "DATABASE_URL": database_url()}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=environment,
    )
    from config.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    yield redis_url, process
    app.conf.task_always_eager = True
    process.terminate()
    process.wait(20)


def send(job: ProcessingJob, redis_url: str) -> None:
    from config.celery import app

    # An explicit connection: the app's pool may already hold one to the default broker.
    with app.connection_for_write(redis_url) as connection:
        sent = run_job.apply_async((job.pk,), connection=connection)
    assert not isinstance(sent, EagerResult)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_fit_job(worker) -> None:
    rng = np.random.default_rng(8)
    lon, lat = rng.uniform(-1.1, -1.0, 40), rng.uniform(43.7, 43.8, 40)
    dataset = make_dataset("worker-source", lon=lon, lat=lat, velocity=rng.normal(0, 3, 40))
    job = ProcessingJob.objects.create(kind="fit", parameters={"dataset": dataset.slug})
    redis_url, process = worker
    send(job, redis_url)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in (ProcessingJob.State.SUCCEEDED, ProcessingJob.State.FAILED):
            break
        assert process.poll() is None, "the worker died"
        time.sleep(0.5)
    assert job.state == ProcessingJob.State.SUCCEEDED, job.message
    dataset.refresh_from_db()
    assert dataset.provenance["processing"][-1]["step"] == "fit"
    assert job.output_id == dataset.pk
