"""Large downloads as export jobs (ProcessingJob kind=export), run by a Celery worker.

The job re-applies the access rules when it runs (the user's rights may have changed since the
request), streams the file to a temporary name under MEDIA_ROOT/exports/<job id>/ and renames
it when complete, records the download, and reports points written of points planned. Its
state, progress and heartbeat go through processing/runs.py like every other job. The file is
removed DOWNLOAD_FILE_HOURS after it was written (remove_expired_exports, run by celery beat);
a failed job's directory is removed at once.

A CSV export of at least JOB_FANOUT_POINTS points fans out (processing/fanout.py): each chunk
writes the rows of one id range to a part file (rerun: the same bytes again), and the
finishing step joins the header and the parts in id order into the file a single run writes.
Each chunk and the finishing step apply the access rules again. MEDIA_ROOT must be shared by
the workers, as it already is by the web servers that serve the file.
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from downloads import service
from groundmotion.exports.writers import EXTENSIONS, Format, csv_chunks, csv_header, write_export
from groundmotion.models import DownloadRecord, ProcessingJob
from processing import fanout, runs
from processing.models import FanOut, JobChunk

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
            if fanout.start(job, progress):
                return
            record = write_job_file(job, progress)
        except Exception as error:  # the job fails cleanly and says why; no partial file stays
            logger.exception("export job %s failed", job_id)
            shutil.rmtree(export_directory(job), ignore_errors=True)
            runs.finish(job_id, State.FAILED, f"Export failed: {error}")
            return
    runs.finish(
        job_id, State.SUCCEEDED, f"{record.point_count:,} points, {record.byte_count:,} bytes"
    )


def job_plan(job: ProcessingJob) -> service.DownloadPlan:
    """The download as the job's user may have it now (the access rules applied again)."""
    parameters = job.parameters
    return service.plan_download(
        job.user,
        parameters["dataset"],
        parameters["format"],
        parameters["bbox"],
        parameters["polygon"],
        parameters.get("filters"),
    )


def file_name(plan: service.DownloadPlan) -> str:
    return f"{plan.dataset.slug}.{EXTENSIONS[plan.export_format]}"


def write_job_file(job: ProcessingJob, progress: runs.Progress) -> DownloadRecord:
    plan = job_plan(job)
    directory = export_directory(job)
    directory.mkdir(parents=True, exist_ok=True)
    name = file_name(plan)
    planned = plan.point_count
    progress(0.0, f"writing {planned:,} points")

    def written(done: int) -> None:
        progress(done / max(planned, 1), f"written {done:,} of {planned:,} points")

    result = write_export(plan.export_format, plan.points, plan.dataset, directory / name, written)
    return record_job_file(job, plan, name, result.point_count, result.byte_count)


def record_job_file(
    job: ProcessingJob, plan: service.DownloadPlan, name: str, points: int, byte_count: int
) -> DownloadRecord:
    """The audit row of the written file, and the file on the job."""
    parameters = job.parameters
    plan.point_count = points
    with transaction.atomic():
        record = service.record_download(job.user, plan, byte_count)
        parameters["file"] = name
        parameters["points_written"] = points
        parameters["byte_count"] = byte_count
        parameters["record"] = record.pk  # the download's audit row, for the user's history
        ProcessingJob.objects.filter(pk=job.pk).update(parameters=parameters)
    return record


def plan_chunks(job: ProcessingJob) -> fanout.Plan | None:
    plan = job_plan(job)
    if plan.export_format != Format.CSV or not fanout.wants_fanout(plan.point_count):
        return None
    ids = np.array(plan.points.order_by("id").values_list("id", flat=True), dtype=np.int64)
    parts, points = fanout.split(ids, fanout.job_settings()["JOB_CHUNK_POINTS"])
    return fanout.Plan(parts, points)


def part_path(job: ProcessingJob, number: int) -> Path:
    return export_directory(job) / f".chunk-{number:06d}.csv"


def write_chunk(job: ProcessingJob, plan: FanOut, chunk: JobChunk) -> bytes:
    """The CSV rows of the chunk's id range (no header) in its part file."""
    download = job_plan(job)
    points = download.points.filter(id__gte=chunk.first_id, id__lte=chunk.last_id)
    target = part_path(job, chunk.number)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A run declared lost may still be writing: each run writes a name of its own, and the
    # rename leaves one complete part (both hold the same rows).
    partial = target.with_name(f".partial-{os.getpid()}-{chunk.attempts}{target.name}")
    written = [0]
    blocks = csv_chunks(points, download.dataset, lambda done: written.__setitem__(0, done))
    next(blocks)  # the header, written once by the finishing step
    with open(partial, "wb") as out:
        for block in blocks:
            out.write(block)
    partial.replace(target)
    return fanout.pack({"points": np.array([written[0]], dtype=np.int64)})


def join_chunks(
    job: ProcessingJob, plan: FanOut, outputs: Iterator[bytes], progress: runs.Progress
) -> fanout.Finished:
    """Header and parts, in id order, into the job's file; then the audit row."""
    download = job_plan(job)
    name = file_name(download)
    target = export_directory(job) / name
    partial = target.with_name(f".partial-{name}")
    points = 0
    with open(partial, "wb") as out:
        out.write(csv_header(download.dataset))
        for number, output in enumerate(outputs):
            points += int(fanout.unpack(output)["points"][0])
            with open(part_path(job, number), "rb") as part:
                shutil.copyfileobj(part, out, 2**20)
            fanout.finishing_progress(progress, points, plan.total_points, "joining the file")
    partial.replace(target)
    for number in range(plan.chunks.count()):
        part_path(job, number).unlink(missing_ok=True)
    record = record_job_file(job, download, name, points, target.stat().st_size)
    return fanout.Finished(f"{record.point_count:,} points, {record.byte_count:,} bytes")


def remove_files_of(job: ProcessingJob) -> None:
    shutil.rmtree(export_directory(job), ignore_errors=True)


CHUNKED_EXPORT = fanout.Chunked(plan_chunks, write_chunk, join_chunks, remove_files_of)


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
