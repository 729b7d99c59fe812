"""What each column of a point table holds: the header resolved against EGMS's names.

EGMS names of either release generation are recognised, plus TRE-style aliases (CODE, VEL,
V_STDEV, COHERENCE, Dyyyymmdd) and an explicit mapping given by the curator.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from groundmotion import egms
from groundmotion.ingest.errors import IngestError

# TRE-style and other common names (upper case) -> EGMS names.
ALIASES = {
    "CODE": "pid",
    "ID": "pid",
    "VEL": "mean_velocity",
    "V_STDEV": "mean_velocity_std",
    "VEL_STD": "mean_velocity_std",
    "COHERENCE": "temporal_coherence",
    "HEIGHT": "height",
    "H_STDEV": "height_std",
    "ACC": "acceleration",
    "A_STDEV": "acceleration_std",
    "LAT": "latitude",
    "LON": "longitude",
    "EFF_AREA": "mp_type",
    "SEASON_AMP": "seasonality",
    "INC_ANGLE": "incidence_angle",
}
REQUIRED = ("pid", "mean_velocity")


@dataclass
class Layout:
    """Column positions by role. Positions index the file's columns, from 0."""

    names: list[str]
    pid: int = -1
    location: dict[str, int] = field(default_factory=dict)  # latitude/longitude or east/north
    fields: dict[int, str] = field(default_factory=dict)  # -> MeasurementPoint field
    extras: dict[int, str] = field(default_factory=dict)  # -> kept extra column name
    unknown: dict[int, str] = field(default_factory=dict)  # decided on the first block
    date_columns: list[int] = field(default_factory=list)
    dates: list[datetime.date] = field(default_factory=list)

    @property
    def projected(self) -> bool:
        """Whether locations are EPSG:3035 easting/northing rather than WGS84."""
        return "latitude" not in self.location

    def numeric_columns(self) -> list[int]:
        return [*self.location.values(), *self.fields, *self.extras, *self.date_columns]

    def column_label(self, index: int) -> str:
        return self.names[index] if 0 <= index < len(self.names) else f"#{index + 1}"


def canonical_name(name: str, mapping: dict[str, str]) -> str:
    """The EGMS name a header stands for (or the header itself when unknown)."""
    if name in mapping:
        return mapping[name]
    lower = name.strip().lower()
    if lower in egms.POINT_FIELDS or lower in egms.KNOWN_EXTRAS or lower in ("pid",):
        return lower
    if lower in egms.EXTRA_ALIASES:
        return egms.EXTRA_ALIASES[lower]
    if lower in egms.LOCATION_COLUMNS:
        return lower
    return ALIASES.get(name.strip().upper(), name.strip())


def parse_date_header(name: str, path: str, position: int) -> datetime.date:
    digits = name.strip()[1:] if name.strip()[:1].isalpha() else name.strip()
    try:
        if len(digits) != 8:
            raise ValueError
        return datetime.datetime.strptime(digits, egms.DATE_FORMAT).date()
    except ValueError:
        raise IngestError(
            path, "malformed date header: expected yyyymmdd", line=1, column=name
        ) from None


def resolve_layout(names: list[str], mapping: dict[str, str], path: str) -> Layout:
    """Assign every header to a role; raise IngestError for missing or malformed headers."""
    layout = Layout(names=names)
    seen: dict[str, str] = {}
    for position, name in enumerate(names):
        role = canonical_name(name, mapping)
        if role in seen:
            raise IngestError(path, f"column repeats {seen[role]!r}", line=1, column=name)
        seen[role] = name
        _assign(layout, position, role, path)
    _check_required(layout, seen, path)
    _check_dates(layout, path)
    return layout


def _assign(layout: Layout, position: int, role: str, path: str) -> None:
    name = layout.names[position]
    if role == "pid":
        layout.pid = position
    elif role in egms.LOCATION_COLUMNS or role in egms.PROJECTED_COLUMNS:
        layout.location[role] = position
        if role in egms.PROJECTED_COLUMNS:
            layout.extras[position] = role  # kept: exports write them back exactly
    elif role in egms.POINT_FIELDS:
        layout.fields[position] = egms.POINT_FIELDS[role]
    elif role in egms.KNOWN_EXTRAS:
        layout.extras[position] = role
    elif (egms.DATE_HEADER.match(name.strip()) and role == name.strip()) or layout.dates:
        # Dates come last: anything after the first date must be a date too.
        layout.dates.append(parse_date_header(name, path, position))
        layout.date_columns.append(position)
    elif name.strip():
        layout.unknown[position] = role
    else:
        raise IngestError(path, "empty column name", line=1, column=f"#{position + 1}")


def _check_required(layout: Layout, seen: dict[str, str], path: str) -> None:
    for role in REQUIRED:
        if role not in seen:
            raise IngestError(path, f"missing required column {role!r}", line=1)
    wgs84 = [name for name in egms.LOCATION_COLUMNS if name in layout.location]
    if len(wgs84) == 1:
        missing = next(name for name in egms.LOCATION_COLUMNS if name not in wgs84)
        raise IngestError(path, f"missing required column {missing!r}", line=1)
    has_wgs84 = len(wgs84) == 2
    has_projected = all(name in layout.location for name in egms.PROJECTED_COLUMNS)
    if not (has_wgs84 or has_projected):
        raise IngestError(
            path,
            "missing required columns 'latitude' and 'longitude' (or easting, northing)",
            line=1,
        )
    if not has_wgs84:
        layout.location = {name: layout.location[name] for name in egms.PROJECTED_COLUMNS}
    else:
        layout.location = {name: layout.location[name] for name in egms.LOCATION_COLUMNS}


def _check_dates(layout: Layout, path: str) -> None:
    for previous, current, position in zip(
        layout.dates, layout.dates[1:], layout.date_columns[1:], strict=False
    ):
        if current <= previous:
            raise IngestError(
                path,
                f"date {current} does not follow {previous}: dates must increase",
                line=1,
                column=layout.names[position],
            )
