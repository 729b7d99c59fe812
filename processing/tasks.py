"""Celery tasks: thin wrappers that run a job through processing.runs and processing.jobs,
and the chunks of a fanned-out job through processing.fanout.

Also the guards against orphaned jobs (see processing/runs.py): the `task_failure` receiver
for a lost pool child (a job fails; a chunk runs again), and the reaper that celery beat and
each starting worker run.
"""

from __future__ import annotations

import logging

from billiard.exceptions import WorkerLostError
from celery import group, shared_task
from celery.signals import task_failure, worker_ready

from groundmotion.models import ProcessingJob
from processing import fanout, runs
from processing.jobs import RUNNERS, result_message

State = ProcessingJob.State
logger = logging.getLogger(__name__)
# Tasks whose first argument is a ProcessingJob id.
JOB_TASKS = {"processing.run_job", "downloads.run_export", "processing.finish_fanout"}
CHUNK_TASK = "processing.run_chunk"


@shared_task(name="processing.run_job", acks_late=True)
def run_job(job_id: int) -> str:
    """Run one queued job, or fan it out in chunks; returns its state."""
    if not runs.claim(job_id):
        return "skipped"
    job = ProcessingJob.objects.get(id=job_id)
    with runs.running(job_id) as progress:
        try:
            if fanout.start(job, progress):
                return "fanned out"
            output = RUNNERS[job.kind](job.parameters, progress)
        except Exception as error:  # Any failure must land on the job row.
            logger.exception("job %s failed", job_id)
            runs.finish(job_id, State.FAILED, f"{type(error).__name__}: {error}")
            return State.FAILED
    runs.finish(job_id, State.SUCCEEDED, result_message(job.kind, job.parameters), output=output)
    return State.SUCCEEDED


@shared_task(name=CHUNK_TASK, bind=True, acks_late=True)
def run_chunk_task(self, chunk_id: int) -> str:
    return fanout.run_chunk(chunk_id, self.request.hostname or "")


@shared_task(name="processing.finish_fanout", acks_late=True)
def finish_fanout_task(job_id: int) -> str:
    return fanout.finish(job_id)


def send_chunks(chunk_ids: list[int]) -> None:
    group(run_chunk_task.s(chunk_id) for chunk_id in chunk_ids).apply_async()


def send_finish(job_id: int) -> None:
    finish_fanout_task.delay(job_id)


@shared_task(name="processing.reap_lost_jobs")
def reap_lost_jobs_task() -> list[int]:
    return fanout.reap()


@task_failure.connect
def fail_job_of_lost_worker(sender=None, exception=None, args=None, **_: object) -> None:
    """A job task ended in an error it did not catch: in the worker's main process when a
    pool child died under it (WorkerLostError), else in the child itself. A chunk whose
    child died runs again (up to JOB_CHUNK_ATTEMPTS); any other chunk error fails its job."""
    if sender is None or not args:
        return
    if sender.name == CHUNK_TASK:
        if isinstance(exception, WorkerLostError):
            fanout.chunk_lost(int(args[0]), str(exception))
        else:
            chunk = fanout.JobChunk.objects.filter(pk=int(args[0])).first()
            if chunk is not None:
                fanout.fail_job(chunk.fanout.job_id, f"{type(exception).__name__}: {exception}")
        return
    if sender.name not in JOB_TASKS:
        return
    if isinstance(exception, WorkerLostError):
        runs.fail_lost_job(int(args[0]), str(exception))
    else:
        runs.finish(int(args[0]), State.FAILED, f"{type(exception).__name__}: {exception}")


@worker_ready.connect
def reap_at_start(**_: object) -> None:
    """A worker that starts after a crash fails the jobs the crash left running, and sends
    again the chunks it left running."""
    fanout.reap()
