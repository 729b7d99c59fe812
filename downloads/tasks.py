"""Celery wrapper of downloads.jobs.run_export."""

from __future__ import annotations

from celery import shared_task

from downloads import jobs


@shared_task(name="downloads.run_export")
def run_export_task(job_id: int) -> None:
    jobs.run_export(job_id)
