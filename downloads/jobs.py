"""Large downloads as export jobs (ProcessingJob kind=export), run by a Celery worker.

The job re-applies the access rules when it runs (the user's rights may have changed since the
request), writes the file under MEDIA_ROOT/exports/<job id>/, records progress, and records
the download when the file is complete. State moves by conditional UPDATE.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from downloads import service
from groundmotion.exports.writers import EXTENSIONS, write_export
from groundmotion.models import DownloadRecord, ProcessingJob

State = ProcessingJob.State
logger = logging.getLogger(__name__)


def export_directory(job: ProcessingJob) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / str(job.pk)


def result_path(job: ProcessingJob) -> Path | None:
    name = job.parameters.get("file")
    return export_directory(job) / name if name else None


def create_job(user: object, plan: service.DownloadPlan, bbox: str, polygon: str) -> ProcessingJob:
    """Queue an export job; the task is sent once the transaction commits."""
    from downloads.tasks import run_export_task

    job = ProcessingJob.objects.create(
        kind=ProcessingJob.Kind.EXPORT, user=user,
        parameters={"dataset": plan.dataset.slug, "format": plan.export_format,
                    "bbox": bbox, "polygon": polygon, "point_count": plan.point_count},
    )  # fmt: skip
    job.inputs.set([plan.dataset])
    transaction.on_commit(lambda: run_export_task.delay(job.pk))
    return job


def run_export(job_id: int) -> None:
    """Run one queued export job; a job already started elsewhere is left alone."""
    claimed = ProcessingJob.objects.filter(pk=job_id, state=State.QUEUED).update(
        state=State.RUNNING, started_at=timezone.now()
    )
    if claimed != 1:
        return
    job = ProcessingJob.objects.select_related("user").get(pk=job_id)
    try:
        record = write_job_file(job)
    except Exception as error:  # the job fails cleanly and says why; no partial file stays
        logger.exception("export job %s failed", job_id)
        finish(job, State.FAILED, f"Export failed: {error}")
        return
    finish(job, State.SUCCEEDED, f"{record.point_count} points, {record.byte_count} bytes")


def write_job_file(job: ProcessingJob) -> DownloadRecord:
    parameters = job.parameters
    plan = service.plan_download(job.user, parameters["dataset"], parameters["format"],
                                 parameters["bbox"], parameters["polygon"])  # fmt: skip
    directory = export_directory(job)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{plan.dataset.slug}.{EXTENSIONS[plan.export_format]}"
    total = max(plan.point_count, 1)

    def progress(done: int) -> None:
        ProcessingJob.objects.filter(pk=job.pk).update(progress=min(done / total, 0.99))

    result = write_export(plan.export_format, plan.points, plan.dataset, directory / name,
                          progress)  # fmt: skip
    plan.point_count = result.point_count
    with transaction.atomic():
        record = service.record_download(job.user, plan, result.byte_count)
        parameters["file"] = name
        ProcessingJob.objects.filter(pk=job.pk).update(parameters=parameters)
    return record


def finish(job: ProcessingJob, state: str, message: str) -> None:
    ProcessingJob.objects.filter(pk=job.pk, state=State.RUNNING).update(
        state=state, message=message, finished_at=timezone.now(),
        progress=1.0 if state == State.SUCCEEDED else job.progress,
    )  # fmt: skip
