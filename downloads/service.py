"""Deciding and recording a download: who, which dataset, which area, how big.

Views (the dialog and the API) and the export job all go through plan_download, which asks
groundmotion/access.py for the dataset and its visible points. Refusals carry an HTTP status
and a message that says why: not signed in (401), no permission (403; 404 when the dataset is
not visible at all), bad or too large an area (400), daily limit reached (429).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from groundmotion import access
from groundmotion.access import AnyUser
from groundmotion.exports.area import AreaError, area_km2, parse_area, within
from groundmotion.exports.writers import Format
from groundmotion.models import Dataset, DownloadRecord, Level, MeasurementPoint


class DownloadRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class DownloadPlan:
    dataset: Dataset
    area: GEOSGeometry
    export_format: str
    points: QuerySet[MeasurementPoint]
    point_count: int

    @property
    def immediate(self) -> bool:
        """Small requests stream at once; larger ones become an export job."""
        return self.point_count <= limits()["DOWNLOAD_SYNC_POINTS"]


def limits() -> dict:
    return settings.GROUNDMOTION


def plan_download(
    user: AnyUser, slug: str, export_format: str, bbox: str | None, polygon: str | None
) -> DownloadPlan:
    """Check everything before any byte is written. Raises Http404, PermissionDenied or
    DownloadRefused."""
    if not user.is_authenticated:
        raise DownloadRefused(401, "Sign in to download data.")
    dataset = access.get_downloadable_dataset(user, slug)
    check_format(dataset, export_format)
    area = checked_area(bbox, polygon)
    points = within(access.visible_points(user, dataset), area)
    count = points.count()
    check_daily_limits(user, count)
    if count > limits()["DOWNLOAD_MAX_POINTS"]:
        raise DownloadRefused(
            400,
            f"The area holds {count:,} points, more than the "
            f"{limits()['DOWNLOAD_MAX_POINTS']:,} allowed in one "
            "download: choose a smaller area.",
        )
    return DownloadPlan(dataset, area, export_format, points, count)


def check_format(dataset: Dataset, export_format: str) -> None:
    if export_format not in Format.ALL:
        raise DownloadRefused(400, f"Unknown format: choose one of {', '.join(Format.ALL)}.")
    if export_format == Format.GEOTIFF and dataset.level != Level.L3:
        raise DownloadRefused(400, "GeoTIFF is available for L3 (gridded) datasets only.")


def checked_area(bbox: str | None, polygon: str | None) -> GEOSGeometry:
    """The area of a download, or a 400 saying what is wrong with it (parse_area checks the
    text; the equal-area projection can still fail far outside Europe)."""
    try:
        area = parse_area(bbox, polygon)
    except AreaError as error:
        raise DownloadRefused(400, str(error)) from None
    if area is None:
        raise DownloadRefused(400, "Give an area: a bbox or a polygon.")
    try:
        size = area_km2(area)
    except (GDALException, GEOSException):
        raise DownloadRefused(400, "The area cannot be measured: draw it within Europe.") from None
    if not math.isfinite(size):
        raise DownloadRefused(400, "The area cannot be measured: draw it within Europe.")
    largest = limits()["DOWNLOAD_MAX_AREA_KM2"]
    if size > largest:
        raise DownloadRefused(
            400, f"The area is too large: {size:,.0f} km², the limit is {largest:,} km²."
        )
    return area


def start_of_today() -> datetime.datetime:
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def check_daily_limits(user: AnyUser, point_count: int) -> None:
    today = DownloadRecord.objects.filter(user=user, created_at__gte=start_of_today())
    totals = today.aggregate(requests=Count("id"), points=Sum("point_count"))
    if totals["requests"] + 1 > limits()["DOWNLOAD_DAILY_REQUESTS"]:
        raise DownloadRefused(
            429, "You have reached today's number of downloads. Try again tomorrow."
        )
    if (totals["points"] or 0) + point_count > limits()["DOWNLOAD_DAILY_POINTS"]:
        raise DownloadRefused(
            429,
            "This download would pass today's limit of "
            f"{limits()['DOWNLOAD_DAILY_POINTS']:,} points.",
        )


def record_download(user: AnyUser, plan: DownloadPlan, byte_count: int = 0) -> DownloadRecord:
    """The audit row: every download is recorded, before its bytes leave."""
    record = DownloadRecord.objects.create(
        user=user,
        area=plan.area,
        format=plan.export_format,
        point_count=plan.point_count,
        byte_count=byte_count,
    )
    record.datasets.set([plan.dataset])
    return record
