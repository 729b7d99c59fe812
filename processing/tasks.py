"""Celery tasks: thin wrappers that run a job through processing.runs and processing.jobs.

Also the two guards against orphaned jobs (see processing/runs.py): the `task_failure`
receiver for a lost pool child, and the reaper that celery beat and each starting worker run.
"""

from __future__ import annotations

import logging

from billiard.exceptions import WorkerLostError
from celery import shared_task
from celery.signals import task_failure, worker_ready

from groundmotion.models import ProcessingJob
from processing import runs
from processing.jobs import RUNNERS, result_message

State = ProcessingJob.State
logger = logging.getLogger(__name__)
# Tasks whose first argument is a ProcessingJob id.
JOB_TASKS = {"processing.run_job", "downloads.run_export"}


@shared_task(name="processing.run_job", acks_late=True)
def run_job(job_id: int) -> str:
    """Run one queued job; returns its final state."""
    if not runs.claim(job_id):
        return "skipped"
    job = ProcessingJob.objects.get(id=job_id)
    with runs.running(job_id) as progress:
        try:
            output = RUNNERS[job.kind](job.parameters, progress)
        except Exception as error:  # Any failure must land on the job row.
            logger.exception("job %s failed", job_id)
            runs.finish(job_id, State.FAILED, f"{type(error).__name__}: {error}")
            return State.FAILED
    runs.finish(job_id, State.SUCCEEDED, result_message(job.kind, job.parameters), output=output)
    return State.SUCCEEDED


@shared_task(name="processing.reap_lost_jobs")
def reap_lost_jobs_task() -> list[int]:
    return runs.reap_lost_jobs()


@task_failure.connect
def fail_job_of_lost_worker(sender=None, exception=None, args=None, **_: object) -> None:
    """A job task ended in an error it did not catch: in the worker's main process when a
    pool child died under it (WorkerLostError), else in the child itself."""
    if sender is None or sender.name not in JOB_TASKS or not args:
        return
    if isinstance(exception, WorkerLostError):
        runs.fail_lost_job(int(args[0]), str(exception))
    else:
        runs.finish(int(args[0]), State.FAILED, f"{type(exception).__name__}: {exception}")


@worker_ready.connect
def reap_at_start(**_: object) -> None:
    """A worker that starts after a crash fails the jobs the crash left running."""
    runs.reap_lost_jobs()
