"""A user's past downloads for the download page: direct downloads (DownloadRecord) and export
jobs, newest first, with the file's link while it is kept."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.urls import reverse

from downloads import jobs
from groundmotion.access import AnyUser
from groundmotion.exports.area import AreaError, area_km2, parse_area
from groundmotion.models import Dataset, DownloadRecord, ProcessingJob

State = ProcessingJob.State
SHOWN = 20


@dataclass
class PastDownload:
    created_at: datetime.datetime
    dataset: str  # the dataset's name
    area: str
    format: str
    point_count: int | None
    byte_count: int | None
    state: str  # "downloaded", or the job's state
    link: str | None = None  # the file, while it is kept
    expires_at: datetime.datetime | None = None
    job_id: int | None = None


def describe_area(area: GEOSGeometry | None) -> str:
    if area is None:
        return "—"
    west, south, east, north = area.extent
    kind = "box" if area.envelope.equals(area) else "polygon"
    try:
        size = f", {area_km2(area):,.2f} km²"
    except (GDALException, GEOSException):
        size = ""
    return f"{kind} {west:.4f},{south:.4f},{east:.4f},{north:.4f}{size}"


def job_area(job: ProcessingJob) -> GEOSGeometry | None:
    parameters = job.parameters
    try:
        return parse_area(parameters.get("bbox") or None, parameters.get("polygon") or None)
    except AreaError:
        return None


def past_downloads(user: AnyUser) -> list[PastDownload]:
    export_jobs = list(
        ProcessingJob.objects.filter(user=user, kind=ProcessingJob.Kind.EXPORT).order_by(
            "-created_at"
        )[:SHOWN]
    )
    names = dict(
        Dataset.objects.filter(
            slug__in={job.parameters.get("dataset") for job in export_jobs}
        ).values_list("slug", "name")
    )
    of_jobs = {job.parameters.get("record") for job in export_jobs}
    entries = [from_job(job, names) for job in export_jobs]
    records = DownloadRecord.objects.filter(user=user).prefetch_related("datasets")[:SHOWN]
    entries += [from_record(record) for record in records if record.pk not in of_jobs]
    entries.sort(key=lambda entry: entry.created_at, reverse=True)
    return entries[:SHOWN]


def from_job(job: ProcessingJob, names: dict[str, str]) -> PastDownload:
    parameters = job.parameters
    ready = jobs.result_path(job) is not None
    slug = parameters.get("dataset", "")
    return PastDownload(
        created_at=job.created_at,
        dataset=names.get(slug, slug),
        area=describe_area(job_area(job)),
        format=parameters.get("format", ""),
        point_count=parameters.get("points_written", parameters.get("point_count")),
        byte_count=parameters.get("byte_count"),
        state="expired" if jobs.is_expired(job) else job.state,
        link=reverse("downloads:job-file", args=[job.pk]) if ready else None,
        expires_at=jobs.expires_at(job),
        job_id=job.pk,
    )


def from_record(record: DownloadRecord) -> PastDownload:
    return PastDownload(
        created_at=record.created_at,
        dataset=", ".join(dataset.name for dataset in record.datasets.all()),
        area=describe_area(record.area),
        format=record.format,
        point_count=record.point_count,
        byte_count=record.byte_count,
        state="downloaded",
    )
