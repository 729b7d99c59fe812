"""Celery wrappers of downloads.jobs."""

from __future__ import annotations

import shutil

from celery import shared_task
from celery.signals import task_failure

from downloads import jobs


@shared_task(name="downloads.run_export", acks_late=True)
def run_export_task(job_id: int) -> None:
    jobs.run_export(job_id)


@shared_task(name="downloads.remove_expired_exports")
def remove_expired_exports_task() -> int:
    return jobs.remove_expired_exports()


@task_failure.connect
def remove_files_of_lost_export(sender=None, args=None, **_: object) -> None:
    """An export whose worker died leaves its partial file: remove it with the job's failure
    (processing/tasks.py marks the job failed)."""
    if sender is not None and sender.name == "downloads.run_export" and args:
        shutil.rmtree(jobs.export_directory_of(int(args[0])), ignore_errors=True)
