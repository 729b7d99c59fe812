"""GNSS station velocities: station tables (CSV), the EGMS GNSS model CSV, GAMIT/GLOBK .vel.

Velocities and their sigmas are mm/yr (east, north, up); locations WGS84 degrees. Longitudes
given as 0-360 are wrapped to -180..180. Tables are small (thousands of stations): read whole.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from django.contrib.gis.geos import Point
from django.db import transaction

from groundmotion.ingest.errors import IngestError
from groundmotion.models import GNSSNetwork, GNSSStation

# Accepted names (lower case) for each role, across the three formats.
ROLES = {
    "code": ("station", "code", "site", "station_id", "stat", "name"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon"),
    "height": ("height", "height_m"),
    "east": ("east", "e", "e.vel", "ve", "velocity_east", "velocity_east_mmyr"),
    "north": ("north", "n", "n.vel", "vn", "velocity_north", "velocity_north_mmyr"),
    "up": ("up", "u", "u.vel", "vu", "velocity_up", "velocity_up_mmyr"),
    "sigma_east": ("sigma_east", "sigmae", "e.sig", "velocity_east_error_mmyr"),
    "sigma_north": ("sigma_north", "sigman", "n.sig", "velocity_north_error_mmyr"),
    "sigma_up": ("sigma_up", "sigmaup", "sigmau", "u.sig", "velocity_up_error_mmyr"),
    "easting": ("easting",),
    "northing": ("northing",),
}
REQUIRED = ("latitude", "longitude", "east", "north", "up")
NUMERIC = tuple(role for role in ROLES if role != "code")


@dataclass
class GnssTable:
    codes: list[str]
    values: dict[str, np.ndarray]  # role -> float64 array (NaN when absent)
    renamed_duplicates: int = 0


def read_table(path: Path) -> pd.DataFrame:
    """The raw table: whitespace-separated for .vel, else comma or semicolon CSV."""
    label = str(path)
    if not path.exists():
        raise IngestError(label, "no such file")
    if path.stat().st_size == 0:
        raise IngestError(label, "empty file", line=1)
    try:
        if path.suffix.lower() == ".vel":
            frame = pd.read_csv(path, sep=r"\s+", dtype=str, keep_default_na=False)
        else:
            frame = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise IngestError(label, "empty file", line=1) from None
    except (pd.errors.ParserError, csv.Error, UnicodeDecodeError, EOFError) as error:
        raise IngestError(label, f"unreadable table ({error})") from None
    if frame.empty:
        raise IngestError(label, "the header has no data rows", line=2)
    return frame


def parse_stations(path: Path) -> GnssTable:
    """Station codes and velocities, checked: numbers, ranges, required columns."""
    label = str(path)
    frame = read_table(path)
    columns = {name.strip().lower(): name for name in frame.columns}
    found = {
        role: columns[name] for role, names in ROLES.items() for name in names if name in columns
    }
    missing = [role for role in REQUIRED if role not in found]
    if missing:
        raise IngestError(label, f"missing required column(s) {missing}", line=1)
    values = {role: _numbers(frame, found.get(role), label) for role in NUMERIC}
    values["longitude"] = (values["longitude"] + 180.0) % 360.0 - 180.0
    _check_values(values, found, label)
    codes = _codes(frame, found, values)
    too_long = [code for code in codes if len(code) > 20]
    if too_long:
        raise IngestError(
            label,
            f"station code {too_long[0]!r} is longer than 20 characters",
            line=codes.index(too_long[0]) + 2,
            column=found.get("code"),
        )
    return _deduplicate(codes, values)


def _numbers(frame: pd.DataFrame, column: str | None, label: str) -> np.ndarray:
    if column is None:
        return np.full(len(frame), np.nan)
    text = frame[column].str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    bad = np.flatnonzero(numbers.isna() & (text != "") & (text.str.lower() != "nan"))
    if len(bad):
        raise IngestError(
            label, f"not a number: {text.iloc[bad[0]]!r}", line=int(bad[0]) + 2, column=column
        )
    return numbers.to_numpy(np.float64)


def _check_values(values: dict[str, np.ndarray], found: dict[str, str], label: str) -> None:
    for role in REQUIRED:
        bad = np.flatnonzero(np.isnan(values[role]))
        if len(bad):
            raise IngestError(label, "missing value", line=int(bad[0]) + 2, column=found[role])
    bad = np.flatnonzero(np.abs(values["latitude"]) > 90)
    if len(bad):
        raise IngestError(
            label,
            f"latitude {values['latitude'][bad[0]]} out of range",
            line=int(bad[0]) + 2,
            column=found["latitude"],
        )


def _codes(frame: pd.DataFrame, found: dict[str, str], values: dict) -> list[str]:
    if "code" in found:
        codes = frame[found["code"]].str.strip().str.removesuffix("_GPS")
        return [code or f"ROW{i + 2}" for i, code in enumerate(codes)]
    # The EGMS GNSS model has no station codes: name grid nodes by their EPSG:3035 km.
    if not np.isnan(values["easting"]).any():
        return [
            f"E{e / 1000:.0f}N{n / 1000:.0f}"
            for e, n in zip(values["easting"], values["northing"], strict=True)
        ]
    return [
        f"{lat:.4f},{lon:.4f}"
        for lat, lon in zip(values["latitude"], values["longitude"], strict=True)
    ]


def _deduplicate(codes: list[str], values: dict[str, np.ndarray]) -> GnssTable:
    """Repeated codes (different sites share names in merged solutions) get _2, _3..."""
    seen: dict[str, int] = {}
    unique = []
    for code in codes:
        seen[code] = seen.get(code, 0) + 1
        unique.append(code if seen[code] == 1 else f"{code[:16]}_{seen[code]}")
    renamed = sum(count - 1 for count in seen.values())
    return GnssTable(unique, values, renamed)


def load_network(path: Path, slug: str, replace: bool, **network: str | float | None) -> tuple:
    """Load stations into network `slug` in one transaction: (network, GnssTable)."""
    table = parse_stations(path)
    with transaction.atomic():
        existing = GNSSNetwork.objects.select_for_update().filter(slug=slug).first()
        if existing is not None and not replace:
            raise IngestError(slug, "the network exists: give --replace to reload it")
        if existing is not None:
            existing.delete()
        details = {key: value for key, value in network.items() if value is not None}
        created = GNSSNetwork.objects.create(
            slug=slug, source=path.name, **{"name": slug, **details}
        )
        GNSSStation.objects.bulk_create(_stations(created, table), batch_size=2000)
    return created, table


def _stations(network: GNSSNetwork, table: GnssTable) -> list[GNSSStation]:
    values = {role: np.where(np.isnan(v), None, v).tolist() for role, v in table.values.items()}
    return [
        GNSSStation(
            network=network,
            code=code,
            geom=Point(values["longitude"][i], values["latitude"][i], srid=4326),
            height=values["height"][i],
            velocity_east=values["east"][i],
            velocity_north=values["north"][i],
            velocity_up=values["up"][i],
            velocity_east_std=values["sigma_east"][i],
            velocity_north_std=values["sigma_north"][i],
            velocity_up_std=values["sigma_up"][i],
        )
        for i, code in enumerate(table.codes)
    ]
