"""The query parameters of /ogc/ requests, checked: a bad one is a 400 naming it (OGC's
exception body), an unknown one too, as Part 1 requires (/req/core/query-param-unknown)."""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
# Vendor parameters: velocity and coherence ranges (the queryables), as the viewer's filters.
RANGES = {
    "velocity_min": ("velocity", ">="),
    "velocity_max": ("velocity", "<="),
    "coherence_min": ("temporal_coherence", ">="),
    "coherence_max": ("temporal_coherence", "<="),
}
ITEMS_PARAMETERS = ("f", "bbox", "bbox-crs", "limit", "after", "datetime", "series", *RANGES)
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class OgcError(Exception):
    """A request the API refuses: status, OGC exception code, the parameter and why."""

    def __init__(self, status: int, code: str, description: str, parameter: str = "") -> None:
        super().__init__(description)
        self.status, self.code, self.description, self.parameter = (
            status,
            code,
            description,
            parameter,
        )

    def as_dict(self) -> dict:
        body = {"code": self.code, "description": self.description}
        if self.parameter:
            body["parameter"] = self.parameter
        return body


def invalid(parameter: str, why: str) -> OgcError:
    return OgcError(400, "InvalidParameterValue", f"{parameter}: {why}", parameter)


def refuse_unknown(query: Mapping[str, str], known: tuple[str, ...]) -> None:
    for name in query:
        if name not in known:
            allowed = ", ".join(known)
            raise invalid(name, f"unknown parameter (this path takes {allowed})")


def number(parameter: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise invalid(parameter, f"must be a number, not {text!r}") from None
    if not math.isfinite(value):
        raise invalid(parameter, "must be finite")
    return value


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """west,south,east,north in CRS84 degrees (a 6-number 3D box keeps its horizontal part)."""
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise invalid("bbox", "expected 4 numbers: west,south,east,north (CRS84 degrees)")
    values = [number("bbox", part) for part in parts]
    west, south, east, north = values if len(values) == 4 else values[:2] + values[3:5]
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise invalid("bbox", "expected longitudes in [-180, 180], latitudes with south <= north")
    if west > east:
        raise invalid("bbox", "boxes across the antimeridian are not supported (west > east)")
    return west, south, east, north


def parse_limit(text: str) -> int:
    try:
        limit = int(text)
    except ValueError:
        raise invalid("limit", f"must be an integer, not {text!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def parse_after(text: str) -> int:
    try:
        after = int(text)
    except ValueError:
        raise invalid("after", "must be the id from a next link") from None
    if not 0 <= after < 2**63:
        raise invalid("after", "must be the id from a next link")
    return after


def parse_instant(text: str, parameter: str) -> datetime.date | None:
    """A date or an RFC 3339 date-time (its date), '..' or '' for an open end."""
    if text in ("..", ""):
        return None
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        raise invalid(parameter, f"expected an RFC 3339 date or date-time, not {text!r}") from None


def parse_datetime(text: str) -> tuple[datetime.date | None, datetime.date | None]:
    """An instant or a closed or half-open interval (start/end, '..' open)."""
    if "/" in text:
        start_text, end_text = text.split("/", 1)
        start, end = parse_instant(start_text, "datetime"), parse_instant(end_text, "datetime")
        if start and end and start > end:
            raise invalid("datetime", "the interval's start is after its end")
        return start, end
    instant = parse_instant(text, "datetime")
    if instant is None:
        raise invalid("datetime", "an instant cannot be open ('..')")
    return instant, instant


def parse_flag(parameter: str, text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no", ""):
        return False
    raise invalid(parameter, "expected true or false")


@dataclass(frozen=True)
class ItemsQuery:
    limit: int = DEFAULT_LIMIT
    after: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    period: tuple[datetime.date | None, datetime.date | None] | None = None
    ranges: dict[str, float] = field(default_factory=dict)
    series: bool = False

    @property
    def is_filtered(self) -> bool:
        return bool(self.bbox or self.ranges or self.period)

    def link_parameters(self, after: int | None) -> dict[str, str]:
        """The query of this page's links, with another `after` (None: the first page)."""
        parameters: dict[str, str] = {"limit": str(self.limit)}
        if self.bbox:
            parameters["bbox"] = ",".join(repr(value) for value in self.bbox)
        if self.period:
            parameters["datetime"] = "/".join(
                day.isoformat() if day else ".." for day in self.period
            )
        parameters.update({name: repr(value) for name, value in self.ranges.items()})
        if self.series:
            parameters["series"] = "true"
        if after is not None:
            parameters["after"] = str(after)
        return parameters


def parse_items(query: Mapping[str, str]) -> ItemsQuery:
    refuse_unknown(query, ITEMS_PARAMETERS)
    crs = query.get("bbox-crs", CRS84)
    if crs != CRS84:
        raise invalid("bbox-crs", f"only {CRS84} is supported")
    return ItemsQuery(
        limit=parse_limit(query["limit"]) if query.get("limit") else DEFAULT_LIMIT,
        after=parse_after(query["after"]) if query.get("after") else None,
        bbox=parse_bbox(query["bbox"]) if query.get("bbox") else None,
        period=parse_datetime(query["datetime"]) if query.get("datetime") else None,
        ranges={name: number(name, query[name]) for name in RANGES if query.get(name)},
        series=parse_flag("series", query.get("series", "")),
    )
