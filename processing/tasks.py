"""Celery tasks: thin wrappers that move ProcessingJob state and call processing.jobs.

State moves only by conditional UPDATE (queued -> running -> succeeded | failed), so a
retried or duplicated message never runs a job twice. Progress is written on a connection
of its own so that it is visible while the product's transaction is still open.
"""

from __future__ import annotations

from celery import shared_task
from django.db import connections
from django.utils import timezone

from groundmotion.models import ProcessingJob
from processing.jobs import RUNNERS
from processing.products import ProgressCallback

State = ProcessingJob.State


def progress_writer(job_id: int) -> ProgressCallback:
    """A callback writing progress on its own autocommit connection; call .close() after."""
    side = connections.create_connection("default")

    def write(fraction: float, message: str) -> None:
        side.set_autocommit(True)
        with side.cursor() as cursor:
            cursor.execute(
                "UPDATE groundmotion_processingjob SET progress = %s, message = %s"
                " WHERE id = %s AND state = %s",
                [min(max(fraction, 0.0), 1.0), message[:500], job_id, State.RUNNING],
            )  # fmt: skip

    write.close = side.close  # type: ignore[attr-defined]
    return write


@shared_task(acks_late=True)
def run_job(job_id: int) -> str:
    """Run one queued job; returns its final state."""
    claimed = ProcessingJob.objects.filter(id=job_id, state=State.QUEUED).update(
        state=State.RUNNING, started_at=timezone.now(), progress=0.0, message="started"
    )
    if claimed != 1:
        return "skipped"
    job = ProcessingJob.objects.get(id=job_id)
    progress = progress_writer(job_id)
    try:
        output = RUNNERS[job.kind](job.parameters, progress)
    except Exception as error:  # Any failure must land on the job row.
        ProcessingJob.objects.filter(id=job_id, state=State.RUNNING).update(
            state=State.FAILED, finished_at=timezone.now(),
            message=f"{type(error).__name__}: {error}"[:2000],
        )  # fmt: skip
        return State.FAILED
    finally:
        progress.close()
    ProcessingJob.objects.filter(id=job_id, state=State.RUNNING).update(
        state=State.SUCCEEDED, finished_at=timezone.now(), progress=1.0, message="done",
        output=output,
    )  # fmt: skip
    return State.SUCCEEDED
