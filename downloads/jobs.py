"""Large downloads as export jobs (ProcessingJob kind=export), run by a Celery worker.

The job re-applies the access rules when it runs (the user's rights may have changed since the
request), streams the file to a temporary name under MEDIA_ROOT/exports/<job id>/ and renames
it when complete, records the download, and reports points written of points planned. Its
state, progress and heartbeat go through processing/runs.py like every other job. The file is
removed DOWNLOAD_FILE_HOURS after it was written (remove_expired_exports, run by celery beat);
a failed job's directory is removed at once.
"""

from __future__ import annotations

import datetime
import logging
import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from downloads import service
from groundmotion.exports.writers import EXTENSIONS, write_export
from groundmotion.models import DownloadRecord, ProcessingJob
from processing import runs

State = ProcessingJob.State
logger = logging.getLogger(__name__)


def export_directory_of(job_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / str(job_id)


def export_directory(job: ProcessingJob) -> Path:
    return export_directory_of(job.pk)


def expires_at(job: ProcessingJob) -> datetime.datetime | None:
    if job.finished_at is None or job.state != State.SUCCEEDED:
        return None
    return job.finished_at + datetime.timedelta(hours=settings.GROUNDMOTION["DOWNLOAD_FILE_HOURS"])


def is_expired(job: ProcessingJob) -> bool:
    end = expires_at(job)
    return end is not None and timezone.now() >= end


def result_path(job: ProcessingJob) -> Path | None:
    """The finished file, or None when there is none (not ready, failed or expired)."""
    name = job.parameters.get("file")
    if not name or job.state != State.SUCCEEDED or is_expired(job):
        return None
    return export_directory(job) / name


def create_job(user: object, plan: service.DownloadPlan, bbox: str, polygon: str) -> ProcessingJob:
    """Queue an export job; the task is sent once the transaction commits."""
    from downloads.tasks import run_export_task

    job = ProcessingJob.objects.create(
        kind=ProcessingJob.Kind.EXPORT,
        user=user,
        parameters={
            "dataset": plan.dataset.slug,
            "format": plan.export_format,
            "bbox": bbox,
            "polygon": polygon,
            "filters": plan.filters,
            "point_count": plan.point_count,
        },
    )
    job.inputs.set([plan.dataset])
    transaction.on_commit(lambda: run_export_task.delay(job.pk))
    return job


def run_export(job_id: int) -> None:
    """Run one queued export job; a job already started elsewhere is left alone."""
    if not runs.claim(job_id):
        return
    job = ProcessingJob.objects.select_related("user").get(pk=job_id)
    with runs.running(job_id) as progress:
        try:
            record = write_job_file(job, progress)
        except Exception as error:  # the job fails cleanly and says why; no partial file stays
            logger.exception("export job %s failed", job_id)
            shutil.rmtree(export_directory(job), ignore_errors=True)
            runs.finish(job_id, State.FAILED, f"Export failed: {error}")
            return
    runs.finish(
        job_id, State.SUCCEEDED, f"{record.point_count:,} points, {record.byte_count:,} bytes"
    )


def write_job_file(job: ProcessingJob, progress: runs.Progress) -> DownloadRecord:
    parameters = job.parameters
    plan = service.plan_download(
        job.user,
        parameters["dataset"],
        parameters["format"],
        parameters["bbox"],
        parameters["polygon"],
        parameters.get("filters"),
    )
    directory = export_directory(job)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{plan.dataset.slug}.{EXTENSIONS[plan.export_format]}"
    planned = plan.point_count
    progress(0.0, f"writing {planned:,} points")

    def written(done: int) -> None:
        progress(done / max(planned, 1), f"written {done:,} of {planned:,} points")

    result = write_export(plan.export_format, plan.points, plan.dataset, directory / name, written)
    plan.point_count = result.point_count
    with transaction.atomic():
        record = service.record_download(job.user, plan, result.byte_count)
        parameters["file"] = name
        parameters["points_written"] = result.point_count
        parameters["byte_count"] = result.byte_count
        parameters["record"] = record.pk  # the download's audit row, for the user's history
        ProcessingJob.objects.filter(pk=job.pk).update(parameters=parameters)
    return record


def remove_expired_exports() -> int:
    """Delete the files of export jobs past DOWNLOAD_FILE_HOURS, and of failed ones."""
    removed = 0
    exports = Path(settings.MEDIA_ROOT) / "exports"
    if not exports.is_dir():
        return 0
    directories = {int(path.name): path for path in exports.iterdir() if path.name.isdigit()}
    finished = ProcessingJob.objects.filter(
        pk__in=directories,
        kind=ProcessingJob.Kind.EXPORT,
        state__in=[State.SUCCEEDED, State.FAILED],
    )
    for job in finished:
        directory = directories[job.pk]
        if job.state == State.FAILED or is_expired(job):
            shutil.rmtree(directory, ignore_errors=True)
            removed += 1
    return removed
