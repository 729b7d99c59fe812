"""What a user asks of the map beyond the stored velocity: a period, a reference, two dates,
the changes layer. Parsed once from the query string, the same for tiles, point detail,
plots, CSV and profiles, so every path means the same thing by the same parameter.

- period (`start`, `end`, either may be left open): velocity = slope of a straight line over
  the acquisitions start <= date <= end;
- reference (`reference=<point id>` or `reference_area=<WKT polygon>`): every series minus the
  reference's series (an area: the mean series of the user's visible points inside it), every
  velocity minus the reference's; the reference itself is at 0;
- two dates (`from`, `to`): displacement between the acquisitions nearest them, mm;
- changes (`changes=k`, needs a period): where the period velocity departs from the
  whole-window velocity by more than k times their combined std.

Bad values raise AnalysisError naming the parameter; a reference the user may not see is a 404
(access.point_for_user), never a hint that it exists.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon, Polygon
from pyproj import Geod

from groundmotion import access
from groundmotion.access import AnyUser
from groundmotion.models import Dataset, PointSeries
from groundmotion.storage import series_codec
from processing.kernels.analysis import years_of

MIN_PERIOD_ACQUISITIONS = 3
MAX_REFERENCE_POINTS = 20_000
MAX_REFERENCE_AREA_KM2 = 100.0
MAX_WKT_CHARS = 20_000
MAX_CHANGES_SIGMA = 10.0
WGS84 = Geod(ellps="WGS84")


class AnalysisError(ValueError):
    """A parameter that cannot be used: the views answer 400 {field: message}."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {self.field: self.message}


@dataclass(frozen=True)
class Analysis:
    start: datetime.date | None = None
    end: datetime.date | None = None
    reference: int | None = None
    reference_area: str | None = None
    from_date: datetime.date | None = None
    to_date: datetime.date | None = None
    changes: float | None = None

    @property
    def has_period(self) -> bool:
        return self.start is not None or self.end is not None

    @property
    def has_reference(self) -> bool:
        return self.reference is not None or self.reference_area is not None

    @property
    def has_dates(self) -> bool:
        return self.from_date is not None

    @property
    def is_plain(self) -> bool:
        """Nothing asked: the stored velocities answer, through the existing fast paths."""
        return not (self.has_period or self.has_reference or self.has_dates)

    def key(self) -> str:
        """Canonical text of what was asked, for cache keys and ETags ("" when plain)."""
        parts = []
        if self.has_period:
            parts.append(f"p{self.start or ''}_{self.end or ''}")
        if self.reference is not None:
            parts.append(f"r{self.reference}")
        if self.reference_area is not None:
            digest = hashlib.sha256(self.reference_area.encode()).hexdigest()[:16]
            parts.append(f"a{digest}")
        if self.has_dates:
            parts.append(f"d{self.from_date}_{self.to_date}")
        if self.changes is not None:
            parts.append(f"c{self.changes:g}")
        return "-".join(parts)


def parse_date(params: Mapping[str, str], field: str) -> datetime.date | None:
    text = (params.get(field) or "").strip()
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise AnalysisError(field, f"{text[:40]!r} is not a date as YYYY-MM-DD") from None


def parse_reference(params: Mapping[str, str]) -> int | None:
    text = (params.get("reference") or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0 or int(text) >= 2**63:
        raise AnalysisError("reference", "a point id (a positive whole number)")
    return int(text)


def parse_area(params: Mapping[str, str]) -> str | None:
    """The reference area as canonical WKT of a valid polygon, at most MAX_REFERENCE_AREA_KM2."""
    text = (params.get("reference_area") or "").strip()
    if not text:
        return None
    if len(text) > MAX_WKT_CHARS:
        raise AnalysisError("reference_area", f"at most {MAX_WKT_CHARS} characters of WKT")
    try:
        geometry = GEOSGeometry(text, srid=4326)
    except (GEOSException, ValueError):
        raise AnalysisError("reference_area", "not WKT; give POLYGON((lon lat, ...))") from None
    if not isinstance(geometry, Polygon | MultiPolygon) or geometry.empty:
        raise AnalysisError("reference_area", "a POLYGON or MULTIPOLYGON in WGS84 lon lat")
    if not geometry.valid:
        raise AnalysisError("reference_area", f"invalid polygon: {geometry.valid_reason}")
    west, south, east, north = geometry.extent
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise AnalysisError("reference_area", "coordinates are lon lat degrees")
    area_km2 = abs(WGS84.geometry_area_perimeter(_shapely(geometry))[0]) / 1e6
    if area_km2 > MAX_REFERENCE_AREA_KM2:
        raise AnalysisError(
            "reference_area",
            f"{area_km2:.0f} km² is over the {MAX_REFERENCE_AREA_KM2:.0f} km² a reference may be",
        )
    return geometry.wkt


def _shapely(geometry: GEOSGeometry) -> object:
    import shapely

    return shapely.from_wkb(bytes(geometry.wkb))


def parse_changes(params: Mapping[str, str]) -> float | None:
    text = (params.get("changes") or "").strip()
    if not text:
        return None
    try:
        sigma = float(text)
    except ValueError:
        raise AnalysisError("changes", "a number of standard deviations, e.g. 2") from None
    if not 0 < sigma <= MAX_CHANGES_SIGMA:
        raise AnalysisError("changes", f"between 0 and {MAX_CHANGES_SIGMA:g} standard deviations")
    return sigma


def parse_analysis(params: Mapping[str, str]) -> Analysis:
    """The analysis asked by a query string (or a JSON body with the same names)."""
    start, end = parse_date(params, "start"), parse_date(params, "end")
    if start and end and start > end:
        raise AnalysisError("end", f"{end} is before start {start}")
    from_date, to_date = parse_date(params, "from"), parse_date(params, "to")
    if (from_date is None) != (to_date is None):
        missing = "to" if to_date is None else "from"
        raise AnalysisError(missing, "two dates need both from and to")
    reference, area = parse_reference(params), parse_area(params)
    if reference is not None and area is not None:
        raise AnalysisError("reference_area", "give reference or reference_area, not both")
    changes = parse_changes(params)
    if changes is not None and not (start or end):
        raise AnalysisError("changes", "the changes layer compares a period: give start and end")
    return Analysis(start, end, reference, area, from_date, to_date, changes)


def dataset_years(dataset: Dataset) -> np.ndarray:
    """Each acquisition's time in years (365.25 days) since the dataset's first."""
    dates = dataset.acquisition_dates
    if not dates:
        return np.empty(0)
    return years_of(np.array([date.toordinal() for date in dates], dtype=np.float64))


def period_mask(dataset: Dataset, analysis: Analysis) -> np.ndarray | None:
    """Which acquisitions the period holds; None when no period was asked."""
    if not analysis.has_period:
        return None
    days = np.array([date.toordinal() for date in dataset.acquisition_dates], dtype=np.int64)
    first = analysis.start.toordinal() if analysis.start else -(2**62)
    last = analysis.end.toordinal() if analysis.end else 2**62
    mask = (days >= first) & (days <= last)
    held = int(mask.sum())
    if held < MIN_PERIOD_ACQUISITIONS:
        field = "start" if analysis.start else "end"
        raise AnalysisError(
            field,
            f"the period {analysis.start or '…'} to {analysis.end or '…'} holds {held}"
            f" acquisition{'s' if held != 1 else ''} of this dataset; at least"
            f" {MIN_PERIOD_ACQUISITIONS} are needed",
        )
    return mask


def nearest_index(dataset: Dataset, date: datetime.date) -> int:
    days = np.array([d.toordinal() for d in dataset.acquisition_dates], dtype=np.int64)
    return int(np.argmin(np.abs(days - date.toordinal())))


def date_pair(dataset: Dataset, analysis: Analysis) -> tuple[int, int] | None:
    """Indexes of the acquisitions nearest `from` and `to`; None when no dates were asked."""
    if not analysis.has_dates:
        return None
    if not dataset.acquisition_dates:
        raise AnalysisError("from", "this dataset has no acquisition dates")
    first = nearest_index(dataset, analysis.from_date)
    second = nearest_index(dataset, analysis.to_date)
    if first == second:
        on = dataset.acquisition_dates[first]
        raise AnalysisError("to", f"from and to fall on the same acquisition ({on})")
    return first, second


@dataclass(frozen=True)
class Reference:
    series: np.ndarray
    velocity: float
    label: str
    point_id: int | None = None
    count: int = 1


def decoded(raw: bytes | memoryview | None, date_count: int) -> np.ndarray:
    if raw is None:
        return np.full(date_count, np.nan)
    return series_codec.decode(raw).astype(np.float64)


def point_reference(user: AnyUser, dataset: Dataset, point_id: int) -> Reference:
    point, point_dataset = access.point_for_user(user, point_id, with_series=True)
    if point_dataset.pk != dataset.pk:
        raise AnalysisError("reference", f"point {point_id} is not in dataset {dataset.slug}")
    try:
        raw = point.series.displacements
    except PointSeries.DoesNotExist:
        raw = None
    velocity = point.velocity if point.velocity is not None else np.nan
    return Reference(
        decoded(raw, len(dataset.acquisition_dates)), float(velocity), f"point {point_id}", point_id
    )


def area_reference(user: AnyUser, dataset: Dataset, wkt: str) -> Reference:
    """The mean series and mean velocity of the user's visible points inside the area."""
    area = GEOSGeometry(wkt, srid=4326)
    inside = access.visible_points(user, dataset).filter(geom__within=area)
    rows = list(inside.values_list("id", "velocity")[: MAX_REFERENCE_POINTS + 1])
    if not rows:
        raise AnalysisError("reference_area", "no point of this dataset you may see is inside it")
    if len(rows) > MAX_REFERENCE_POINTS:
        raise AnalysisError(
            "reference_area", f"over {MAX_REFERENCE_POINTS} points inside; draw a smaller area"
        )
    ids = [row[0] for row in rows]
    stored = PointSeries.objects.filter(point_id__in=ids).values_list("displacements", flat=True)
    matrix = series_codec.decode_many(list(stored), len(dataset.acquisition_dates))
    velocities = np.array([row[1] for row in rows], dtype=np.float64)
    mean = np.full(len(dataset.acquisition_dates), np.nan)
    if len(matrix):
        present = np.isfinite(matrix).sum(axis=0)
        sums = np.nansum(matrix.astype(np.float64), axis=0)
        np.divide(sums, present, out=mean, where=present > 0)
    known = velocities[np.isfinite(velocities)]
    return Reference(
        mean,
        float(known.mean()) if known.size else float("nan"),
        f"area mean of {len(rows)} points",
        None,
        len(rows),
    )


def resolve_reference(user: AnyUser, dataset: Dataset, analysis: Analysis) -> Reference | None:
    if analysis.reference is not None:
        return point_reference(user, dataset, analysis.reference)
    if analysis.reference_area is not None:
        return area_reference(user, dataset, analysis.reference_area)
    return None


def analysed_series(series: np.ndarray, reference: Reference | None) -> np.ndarray:
    """The series (points x dates, mm) minus the reference series, as a float64 copy."""
    values = np.array(series, dtype=np.float64)
    if reference is not None:
        values -= reference.series[np.newaxis, :]
    return values
