"""Deciding and recording a download: who, which dataset, which area, how big.

Views (the dialog and the API) and the export job all go through plan_download, which asks
groundmotion/access.py for the dataset and its visible points. Refusals carry an HTTP status
and a message that says why: not signed in (401), no permission (403; 404 when the dataset is
not visible at all), bad or too large an area (400), daily limit reached (429).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from groundmotion import access
from groundmotion.access import AnyUser
from groundmotion.exports.area import AreaError, area_km2, parse_area, within
from groundmotion.exports.writers import Format
from groundmotion.models import Dataset, DownloadRecord, Level, MeasurementPoint


class DownloadRefused(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field  # the request field at fault, for a 400

    def body(self) -> dict:
        return {"detail": self.message, **({"field": self.field} if self.field else {})}


# The viewer's filters, carried to a download of the same points: name -> words.
FILTERS = {
    "velocity_min": "velocity ≥ {} mm/yr",
    "velocity_max": "velocity ≤ {} mm/yr",
    "abs_velocity_min": "|velocity| ≥ {} mm/yr",
    "coherence_min": "coherence ≥ {}",
}


def checked_filters(raw: Mapping[str, object] | None) -> dict[str, float]:
    """The filters given (empty values left out) as finite numbers, or a 400 naming the field."""
    checked = {}
    for name in FILTERS:
        value = (raw or {}).get(name)
        if value is None or value == "":
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise DownloadRefused(400, f"{name} must be a number.", name) from None
        if not math.isfinite(number):
            raise DownloadRefused(400, f"{name} must be finite.", name)
        checked[name] = number
    return checked


def filtered(points: QuerySet[MeasurementPoint], filters: dict[str, float]) -> QuerySet:
    if "velocity_min" in filters:
        points = points.filter(velocity__gte=filters["velocity_min"])
    if "velocity_max" in filters:
        points = points.filter(velocity__lte=filters["velocity_max"])
    if "abs_velocity_min" in filters:
        fast = filters["abs_velocity_min"]
        points = points.filter(Q(velocity__gte=fast) | Q(velocity__lte=-fast))
    if "coherence_min" in filters:
        points = points.filter(temporal_coherence__gte=filters["coherence_min"])
    return points


def describe_filters(filters: dict[str, float]) -> str:
    return ", ".join(FILTERS[name].format(f"{value:g}") for name, value in filters.items())


@dataclass
class DownloadPlan:
    dataset: Dataset
    area: GEOSGeometry
    export_format: str
    points: QuerySet[MeasurementPoint]
    point_count: int
    filters: dict[str, float] = field(default_factory=dict)

    @property
    def immediate(self) -> bool:
        """Small requests stream at once; larger ones become an export job."""
        return self.point_count <= limits()["DOWNLOAD_SYNC_POINTS"]


def limits() -> dict:
    return settings.GROUNDMOTION


def plan_download(
    user: AnyUser,
    slug: str,
    export_format: str,
    bbox: str | None,
    polygon: str | None,
    filters: Mapping[str, object] | None = None,
) -> DownloadPlan:
    """Check everything before any byte is written. Raises Http404, PermissionDenied or
    DownloadRefused."""
    if not user.is_authenticated:
        raise DownloadRefused(401, "Sign in to download data.")
    dataset = access.get_downloadable_dataset(user, slug)
    check_format(dataset, export_format)
    area = checked_area(bbox, polygon)
    chosen = checked_filters(filters)
    points = filtered(within(access.visible_points(user, dataset), area), chosen)
    count = points.count()
    check_daily_limits(user, count)
    if count > limits()["DOWNLOAD_MAX_POINTS"]:
        raise DownloadRefused(
            400,
            f"The area holds {count:,} points, more than the "
            f"{limits()['DOWNLOAD_MAX_POINTS']:,} allowed in one "
            "download: choose a smaller area.",
        )
    return DownloadPlan(dataset, area, export_format, points, count, chosen)


# Bytes a point takes, from real exports: write_export of the demo region's two tracks
# (make_demo --points 20000, --years 1, 3 and 6: 56, 178 and 361 dates), byte_count / points.
# CSV: a least-squares line through the six (dates, bytes a point) pairs, within 6% of each
# (the digits of the values make the two tracks differ by up to 10%).
CSV_FIXED_BYTES = 180.0
CSV_PER_DATE_BYTES = 4.95
# GeoPackage (SQLite) is quantised by its 4096-byte pages. A row of ~300 bytes plus a float64 a
# date sits whole in a leaf page (floor(4061 / row) rows a page, 4061 = the page minus its
# header) or, past 4061 bytes, keeps 489 bytes there and the rest in overflow pages of 4092
# (SQLite's file format, "cell payload overflow"); the R-tree and headers add ~3%. This gives
# 844, 2110, 4219 and 4746 bytes a point at 56, 178, 361 and 487 dates against 768, 2112, 4165
# and 4743 measured; a straight line through them would be 1.5 times too small at 240 dates.
GPKG_PAGE_BYTES = 4096
GPKG_ROW_BYTES = 300.0
GPKG_INDEX_FACTOR = 1.03
# An extra column (PointExtra) was not among the measured exports: a float64 either way.
PER_EXTRA_BYTES = 8.0
# GeoTIFF (a COG: float32 cells, DEFLATE with the float predictor, averaged overviews, about
# 2 KB of directories and metadata): measured 4.3 bytes a point on a full 560 x 120 grid and
# 5.0 on towns covering a fifth of a 600 x 400 one (tests/downloads/test_estimate.py), 4.4 to
# 7.5 on synthetic 2000 x 2000 grids from full to 5% cover. Empty cells cost too, which a
# per-point figure cannot see: the demo's L3 (2% of its grid covered) takes 10.8 a point.
GEOTIFF_BYTES_PER_POINT = 4.6
GEOTIFF_HEADER_BYTES = 2048


def csv_point_bytes(dates: int, extras: int) -> float:
    return CSV_FIXED_BYTES + CSV_PER_DATE_BYTES * dates + PER_EXTRA_BYTES * extras


def gpkg_point_bytes(dates: int, extras: int) -> float:
    page = GPKG_PAGE_BYTES
    row = GPKG_ROW_BYTES + 8.0 * (dates + extras)
    most_local, least_local, overflow_page = page - 35, (page - 12) * 32 // 255 - 23, page - 4
    if row <= most_local:
        return GPKG_INDEX_FACTOR * page / math.floor(most_local / row)
    local = least_local + (row - least_local) % overflow_page
    local = local if local <= most_local else least_local
    overflow_pages = math.ceil((row - local) / overflow_page)
    return GPKG_INDEX_FACTOR * (overflow_pages * page + page / math.floor(most_local / local))


def estimated_bytes(dataset: Dataset, export_format: str, point_count: int) -> int | None:
    """The file's size, estimated from the point count (None when the format does not apply)."""
    if export_format == Format.GEOTIFF:
        if dataset.level != Level.L3:
            return None
        return round(GEOTIFF_HEADER_BYTES + GEOTIFF_BYTES_PER_POINT * point_count)
    dates = len(dataset.acquisition_dates or [])
    extras = len(dataset.extra_columns or [])
    per_point = (csv_point_bytes if export_format == Format.CSV else gpkg_point_bytes)(
        dates, extras
    )
    return round(per_point * point_count)


@dataclass
class Estimate:
    dataset: Dataset
    point_count: int
    requests_left: int  # today's, under DOWNLOAD_DAILY_REQUESTS
    points_left: int  # today's, under DOWNLOAD_DAILY_POINTS
    filters: dict[str, float] = field(default_factory=dict)

    def mode(self) -> tuple[str, str]:
        """Which limit applies, and the sentence that says so."""
        sync, largest = limits()["DOWNLOAD_SYNC_POINTS"], limits()["DOWNLOAD_MAX_POINTS"]
        if self.point_count > largest:
            return "too-large", (
                f"More than the {largest:,} points allowed in one download: choose a smaller area."
            )
        if self.requests_left <= 0:
            return "daily-limit", "You have reached today's number of downloads."
        if self.point_count > self.points_left:
            return "daily-limit", f"Today you may still download {self.points_left:,} points."
        if self.point_count > sync:
            return "background", (
                f"More than {sync:,} points: the file is prepared in the background as an export "
                "job, with its progress to follow."
            )
        return "immediate", f"Up to {sync:,} points download at once."

    def to_dict(self) -> dict:
        mode, message = self.mode()
        return {
            "dataset": self.dataset.slug,
            "name": self.dataset.name,
            "point_count": self.point_count,
            "filters": self.filters,
            "filters_text": describe_filters(self.filters),
            "bytes": {
                name: estimated_bytes(self.dataset, name, self.point_count) for name in Format.ALL
            },
            "mode": mode,
            "message": message,
            "limits": {
                "sync_points": limits()["DOWNLOAD_SYNC_POINTS"],
                "max_points": limits()["DOWNLOAD_MAX_POINTS"],
                "requests_left_today": self.requests_left,
                "points_left_today": self.points_left,
            },
        }


def estimate_download(
    user: AnyUser,
    slug: str,
    bbox: str | None,
    polygon: str | None,
    filters: Mapping[str, object] | None = None,
) -> Estimate:
    """The points a download of this area would hold (visible ones: masked points out, as the
    export leaves them out), its sizes and the limit that applies; plan_download's refusals
    for who and where (the limits are reported, not refused)."""
    if not user.is_authenticated:
        raise DownloadRefused(401, "Sign in to download data.")
    dataset = access.get_downloadable_dataset(user, slug)
    area = checked_area(bbox, polygon)
    chosen = checked_filters(filters)
    count = filtered(within(access.visible_points(user, dataset), area), chosen).count()
    requests, points = used_today(user)
    return Estimate(
        dataset,
        count,
        max(limits()["DOWNLOAD_DAILY_REQUESTS"] - requests, 0),
        max(limits()["DOWNLOAD_DAILY_POINTS"] - points, 0),
        chosen,
    )


def check_format(dataset: Dataset, export_format: str) -> None:
    if export_format not in Format.ALL:
        raise DownloadRefused(400, f"Unknown format: choose one of {', '.join(Format.ALL)}.")
    if export_format == Format.GEOTIFF and dataset.level != Level.L3:
        raise DownloadRefused(400, "GeoTIFF is available for L3 (gridded) datasets only.")


def checked_area(bbox: str | None, polygon: str | None) -> GEOSGeometry:
    """The area of a download, or a 400 saying what is wrong with it (parse_area checks the
    text; the equal-area projection can still fail far outside Europe)."""
    field = "polygon" if polygon else "bbox"
    try:
        area = parse_area(bbox, polygon)
    except AreaError as error:
        raise DownloadRefused(400, str(error), field) from None
    if area is None:
        raise DownloadRefused(400, "Give an area: a bbox or a polygon.", "bbox")
    unmeasurable = "The area cannot be measured: draw it within Europe."
    try:
        size = area_km2(area)
    except (GDALException, GEOSException):
        raise DownloadRefused(400, unmeasurable, field) from None
    if not math.isfinite(size):
        raise DownloadRefused(400, unmeasurable, field)
    largest = limits()["DOWNLOAD_MAX_AREA_KM2"]
    if size > largest:
        raise DownloadRefused(
            400, f"The area is too large: {size:,.0f} km², the limit is {largest:,} km².", field
        )
    return area


def start_of_today() -> datetime.datetime:
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def used_today(user: AnyUser) -> tuple[int, int]:
    """(downloads, points) the user has had today."""
    today = DownloadRecord.objects.filter(user=user, created_at__gte=start_of_today())
    totals = today.aggregate(requests=Count("id"), points=Sum("point_count"))
    return totals["requests"], totals["points"] or 0


def check_daily_limits(user: AnyUser, point_count: int) -> None:
    requests, points = used_today(user)
    if requests + 1 > limits()["DOWNLOAD_DAILY_REQUESTS"]:
        raise DownloadRefused(
            429, "You have reached today's number of downloads. Try again tomorrow."
        )
    if points + point_count > limits()["DOWNLOAD_DAILY_POINTS"]:
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
