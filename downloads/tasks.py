"""Celery wrappers of downloads.jobs."""

from __future__ import annotations

import shutil

from celery import shared_task
from celery.signals import task_failure

from downloads import jobs
from groundmotion.models import ProcessingJob


@shared_task(name="downloads.run_export", acks_late=True)
def run_export_task(job_id: int) -> None:
    jobs.run_export(job_id)


@shared_task(name="downloads.remove_expired_exports")
def remove_expired_exports_task() -> int:
    return jobs.remove_expired_exports()


@task_failure.connect
def remove_files_of_lost_export(sender=None, args=None, **_: object) -> None:
    """An export whose worker died leaves its partial file: remove it with the job's failure
    (processing/tasks.py marks the job failed). The finishing step of a fanned-out export
    (processing.finish_fanout) leaves its parts and partial file the same way."""
    if sender is None or not args:
        return
    job_id = int(args[0])
    finishing_export = (
        sender.name == "processing.finish_fanout"
        and ProcessingJob.objects.filter(pk=job_id, kind=ProcessingJob.Kind.EXPORT).exists()
    )
    if sender.name == "downloads.run_export" or finishing_export:
        shutil.rmtree(jobs.export_directory_of(job_id), ignore_errors=True)
