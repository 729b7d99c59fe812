"""Real Celery workers started under tests/faults/inject.py (on the Redis of tests/conftest.py's
redis_url), and the invariants every fault must leave holding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

from groundmotion.models import ProcessingJob
from groundmotion.storage.partitions import STAGING_PREFIX
from tests.services import Worker, database_url

ROOT = Path(__file__).resolve().parents[2]
# The silence after which a test worker's reaper fails a job (production: 120 s).
LOST_AFTER_S = 4


class Plan:
    """The fault plan file a worker or command started by inject.py reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.write({})

    def write(self, plan: dict) -> None:
        self.path.write_text(json.dumps(plan))

    def arm(
        self, point: str, action: str, after: int = 2, seconds: float = 0, **settings: object
    ) -> None:
        self.write(
            {
                "point": point,
                "action": action,
                "after": after,
                "seconds": seconds,
                "settings": settings,
            }
        )

    def read(self) -> dict:
        return json.loads(self.path.read_text())


def under_plan(plan: Plan, *command: str) -> list[str]:
    """The command line that runs `command` (celery ..., manage.py ...) under inject.py."""
    return [sys.executable, "-m", "tests.faults.inject", str(plan.path), "--", *command]


@pytest.fixture
def plan(tmp_path) -> Plan:
    return Plan(tmp_path / "fault.json")


def environment(redis_url: str, media: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "true",
        "CELERY_BROKER_URL": redis_url,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(media),
        "GROUNDMOTION_JOB_HEARTBEAT_S": "1",
        "GROUNDMOTION_DOWNLOAD_MAX_AREA_KM2": "100000",
        "GROUNDMOTION_JOB_LOST_AFTER_S": str(LOST_AFTER_S),
        **extra,
    }


@pytest.fixture
def start_worker(redis_url, plan, settings, tmp_path) -> Iterator[Callable[..., Worker]]:
    """Start `celery worker` under the fault plan: pool "prefork" (one child, which a fault
    may kill) or "solo" (the fault kills the whole worker, as a lost machine)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    started: list[Worker] = []

    def start(pool: str = "prefork") -> Worker:
        log = tmp_path / f"worker-{len(started)}.log"
        command = under_plan(
            plan,
            "celery",
            "-A",
            "config",
            "worker",
            f"--pool={pool}",
            "--concurrency=1",
            "--loglevel=INFO",
            f"--logfile={log}",
            f"--hostname=fault{len(started)}@%h",
        )
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment(redis_url, settings.MEDIA_ROOT)
        )
        worker = Worker(process, log)
        started.append(worker)
        worker.wait_ready(60)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def send_to_worker(redis_url, monkeypatch, settings) -> Iterator[None]:
    """Jobs queued by the code under test (on commit) go to the test's Redis, not run eagerly."""
    from config.celery import app
    from downloads.tasks import run_export_task
    from processing.tasks import run_job

    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    for task in (run_job, run_export_task):

        def delay(*args: object, task=task) -> None:
            with app.connection_for_write(redis_url) as broker:
                task.apply_async(args, connection=broker)

        monkeypatch.setattr(task, "delay", delay)
    yield
    app.conf.task_always_eager = True


def wait_for_job(job_id: int, seconds: float = 120) -> ProcessingJob:
    """The job once it has left queued/running; fails the test past the bound."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = ProcessingJob.objects.get(pk=job_id)
        if job.state in (ProcessingJob.State.SUCCEEDED, ProcessingJob.State.FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.state} after {seconds} s: {job.message}")


def staged_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE %s",
            [STAGING_PREFIX.replace("_", r"\_") + "%"],
        )
        return [row[0] for row in cursor.fetchall()]


def idle_transactions() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, left(query, 80) FROM pg_stat_activity WHERE datname ="
            " current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in trans%%'"
        )
        return cursor.fetchall()


def eventually(check: Callable[[], object], seconds: float = 15) -> None:
    """Wait until check() is falsy (an empty list): a killed client's socket closes at once,
    PostgreSQL notices within moments."""
    deadline = time.monotonic() + seconds
    while (found := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not found, found
