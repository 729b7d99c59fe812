"""How every job runs, whatever its kind: claim, progress, heartbeat, finish, and the reaper.

State moves only by conditional UPDATE (queued -> running -> succeeded | failed), so a retried
or duplicated message never runs a job twice, and a late writer never revives a finished job.

A job cannot stay `running` after its worker is gone, by two of Celery's own means:
- the pool child dies (SIGKILL, OOM killer): the worker's main process gets WorkerLostError
  and sends `task_failure` (tasks are acks_late, so the message is acked as failed, not
  redelivered); `fail_lost_job` marks the job failed at once.
- the whole worker dies (machine lost, solo pool, SIGKILL of the main process): nothing is
  left to send a signal. The running job writes a heartbeat every JOB_HEARTBEAT_S from a
  thread of its own; `reap_lost_jobs`, run by celery beat every JOB_REAP_S and by each
  worker when it starts, fails every running job whose heartbeat is older than
  JOB_LOST_AFTER_S. That bound is the longest a dead job can show `running`.
Why not task_reject_on_worker_lost: it requeues the message, so a job that kills its worker
(out of memory on a too-large input) would kill worker after worker; a re-run is a new job.

Progress and heartbeats are written on connections of their own, in autocommit, so they are
visible while the product's transaction is open and never touch a connection with a COPY open.
"""

from __future__ import annotations

import datetime
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections
from django.utils import timezone

from groundmotion.models import ProcessingJob

State = ProcessingJob.State
JOB_TABLE = ProcessingJob._meta.db_table
MESSAGE_LIMIT = 2000


def job_settings() -> dict:
    return settings.GROUNDMOTION


def worker_name() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def claim(job_id: int) -> bool:
    """Move a queued job to running; False when another run already has it."""
    now = timezone.now()
    claimed = ProcessingJob.objects.filter(id=job_id, state=State.QUEUED).update(
        state=State.RUNNING,
        started_at=now,
        heartbeat_at=now,
        progress=0.0,
        message="started",
        worker=worker_name(),
    )
    return claimed == 1


def finish(job_id: int, state: str, message: str, **fields: object) -> bool:
    """End a running job; False if it was no longer running (e.g. reaped)."""
    if state == State.SUCCEEDED:
        fields["progress"] = 1.0
    ended = ProcessingJob.objects.filter(id=job_id, state=State.RUNNING).update(
        state=state, finished_at=timezone.now(), message=message[:MESSAGE_LIMIT], **fields
    )
    return ended == 1


class SideConnection:
    """An autocommit connection of its own, opened in the thread that uses it."""

    def __init__(self) -> None:
        self.connection = connections.create_connection("default")

    def execute(self, sql: str, params: list) -> None:
        self.connection.set_autocommit(True)
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)

    def close(self) -> None:
        self.connection.close()


PROGRESS_SQL = (
    f"UPDATE {JOB_TABLE} SET progress = %s, message = %s, heartbeat_at = now()"
    " WHERE id = %s AND state = %s"
)
HEARTBEAT_SQL = f"UPDATE {JOB_TABLE} SET heartbeat_at = now() WHERE id = %s AND state = %s"


class Progress:
    """The progress callback of a running job: (fraction 0..1, a message a person can read)."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.side = SideConnection()

    def __call__(self, fraction: float, message: str) -> None:
        bounded = min(max(float(fraction), 0.0), 0.999)  # 1.0 only when it has succeeded
        self.side.execute(PROGRESS_SQL, [bounded, message[:500], self.job_id, State.RUNNING])

    def close(self) -> None:
        self.side.close()


class Heartbeat(threading.Thread):
    """Says every JOB_HEARTBEAT_S that the job's process is alive, until stopped."""

    def __init__(self, job_id: int) -> None:
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self) -> None:
        side = SideConnection()
        try:
            while not self.stopped.wait(job_settings()["JOB_HEARTBEAT_S"]):
                side.execute(HEARTBEAT_SQL, [self.job_id, State.RUNNING])
        finally:
            side.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join()


@contextmanager
def running(job_id: int) -> Iterator[Progress]:
    """Progress and heartbeat for the body of a claimed job; both stop when it ends."""
    heartbeat = Heartbeat(job_id)
    heartbeat.start()
    progress = Progress(job_id)
    try:
        yield progress
    finally:
        progress.close()
        heartbeat.stop()


def fail_lost_job(job_id: int, reason: str) -> bool:
    """The worker running the job is gone: the job fails with the reason."""
    return finish(job_id, State.FAILED, f"The worker running this job was lost: {reason}")


def reap_lost_jobs() -> list[int]:
    """Fail every running job whose heartbeat is older than JOB_LOST_AFTER_S."""
    lost_after = datetime.timedelta(seconds=job_settings()["JOB_LOST_AFTER_S"])
    silent = ProcessingJob.objects.filter(
        state=State.RUNNING, heartbeat_at__lt=timezone.now() - lost_after
    )
    reaped = []
    for job in silent.only("id", "worker", "heartbeat_at"):
        since = job.heartbeat_at.isoformat(timespec="seconds")
        if fail_lost_job(job.pk, f"no heartbeat from {job.worker or 'its worker'} since {since}"):
            reaped.append(job.pk)
    return reaped
