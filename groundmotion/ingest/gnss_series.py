"""GNSS station position series: NGL `.tenv3` files and plain CSV tables.

Stored as east, north, up in mm relative to each station's first epoch, sigmas in mm, one value
per day in date order (groundmotion.models.GNSSSeries). Formats:

- NGL `.tenv3` (Nevada Geodetic Laboratory): whitespace-separated, one header line, 23 columns:
  site, YYMMMDD, decimal year, MJD, GPS week, day of week, reference meridian, then east, north
  and up each as an integer part (e0, n0, u0, m) plus a fractional part (m), antenna height,
  the three sigmas (m), three correlations, and latitude, longitude (degrees), height (m).
- CSV (`,` or `;`): station, date (YYYY-MM-DD), east_mm, north_mm, up_mm, optional sigma_east_mm,
  sigma_north_mm, sigma_up_mm, and optional latitude, longitude, height (needed only to create
  stations). Lines starting with `#` are comments.

A station not in the network is created only when asked (`create`), at the file's position of
its first epoch, with the velocities of a straight line fitted to its series; their stds are left
empty, since a white-noise fit to daily GNSS understates them several times over.
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.contrib.gis.geos import Point
from django.db import transaction

from groundmotion.ingest.errors import IngestError
from groundmotion.models import GNSSNetwork, GNSSSeries, GNSSStation

MM_PER_M = 1000.0
MJD_ZERO = datetime.date(1858, 11, 17)
DAYS_PER_YEAR = 365.25
CODE_LENGTH = 20
TENV3_COLUMNS = (
    "site", "YYMMMDD", "yyyy.yyyy", "MJD", "week", "d", "reflon", "e0(m)", "east(m)", "n0(m)",
    "north(m)", "u0(m)", "up(m)", "ant(m)", "sig_e(m)", "sig_n(m)", "sig_u(m)", "corr_en",
    "corr_eu", "corr_nu", "latitude(deg)", "longitude(deg)", "height(m)",
)  # fmt: skip
CSV_ROLES = {
    "code": ("station", "code", "site"),
    "date": ("date", "day"),
    "east": ("east_mm", "east", "de_mm", "de"),
    "north": ("north_mm", "north", "dn_mm", "dn"),
    "up": ("up_mm", "up", "du_mm", "du"),
    "sigma_east": ("sigma_east_mm", "sigma_east", "sig_e_mm", "sig_e"),
    "sigma_north": ("sigma_north_mm", "sigma_north", "sig_n_mm", "sig_n"),
    "sigma_up": ("sigma_up_mm", "sigma_up", "sig_u_mm", "sig_u"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon"),
    "height": ("height", "height_m"),
}
CSV_REQUIRED = ("code", "date", "east", "north", "up")
COMPONENTS = ("east", "north", "up")
SIGMAS = ("sigma_east", "sigma_north", "sigma_up")


@dataclass
class Epoch:
    """One line of a file: a day's position (mm, absolute in the file's own origin)."""

    line: int
    date: datetime.date
    enu: tuple[float, float, float]
    sigmas: tuple[float, float, float] | None
    position: tuple[float, float, float | None] | None  # lon, lat (degrees), height (m)


@dataclass
class StationSeries:
    code: str
    first_line: int
    dates: list[datetime.date]
    enu: np.ndarray  # (3, d) east, north, up, mm relative to the first epoch
    sigmas: np.ndarray | None  # (3, d) mm
    position: tuple[float, float, float | None] | None  # lon, lat, height at the first epoch

    def velocities(self) -> np.ndarray:
        """East, north, up slope of a straight line fitted to each component, mm/yr."""
        days = np.array([(d - self.dates[0]).days for d in self.dates], dtype=np.float64)
        return np.polyfit(days / DAYS_PER_YEAR, self.enu.T, 1)[0]


def parse_series(path: Path) -> list[StationSeries]:
    """Every station's series in the file (tenv3 by its suffix, else CSV), checked."""
    label = str(path)
    if not path.exists():
        raise IngestError(label, "no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise IngestError(label, f"not UTF-8 text ({error})") from None
    if not text.strip():
        raise IngestError(label, "empty file", line=1)
    reader = parse_tenv3 if path.suffix.lower() == ".tenv3" else parse_csv
    return assemble(reader(text, label), label)


def parse_tenv3(text: str, label: str) -> dict[str, list[Epoch]]:
    """Epochs by site code from NGL .tenv3 text."""
    stations: dict[str, list[Epoch]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or (number == 1 and fields[0] == "site"):
            continue
        if len(fields) != len(TENV3_COLUMNS):
            message = f"expected {len(TENV3_COLUMNS)} columns, found {len(fields)}"
            raise IngestError(label, message, line=number)
        stations.setdefault(fields[0], []).append(tenv3_epoch(fields, number, label))
    return stations


def tenv3_epoch(fields: list[str], line: int, label: str) -> Epoch:
    values = {
        name: number(text, label, line, name)
        for name, text in zip(TENV3_COLUMNS[3:], fields[3:], strict=True)
    }
    mjd = values["MJD"]
    if mjd != int(mjd):
        raise IngestError(label, f"not a whole day: {fields[3]!r}", line=line, column="MJD")
    date = MJD_ZERO + datetime.timedelta(days=int(mjd))
    if fields[1].upper() != date.strftime("%y%b%d").upper():
        message = f"{fields[1]!r} is not the day of MJD {int(mjd)} ({date.isoformat()})"
        raise IngestError(label, message, line=line, column="YYMMMDD")
    enu = tuple(
        (values[f"{c}0(m)"] + values[f"{name}(m)"]) * MM_PER_M
        for c, name in zip("enu", COMPONENTS, strict=True)
    )
    sigmas = tuple(values[f"sig_{c}(m)"] * MM_PER_M for c in "enu")
    position = checked_position(
        values["longitude(deg)"], values["latitude(deg)"], values["height(m)"], label, line
    )
    return Epoch(line, date, enu, sigmas, position)


def number(text: str, label: str, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise IngestError(label, f"not a number: {text!r}", line=line, column=column) from None
    if not np.isfinite(value):
        raise IngestError(label, f"not a finite number: {text!r}", line=line, column=column)
    return value


def checked_position(
    lon: float, lat: float, height: float | None, label: str, line: int
) -> tuple[float, float, float | None]:
    if abs(lat) > 90:
        raise IngestError(label, f"latitude {lat} out of range", line=line, column="latitude")
    return (lon + 180.0) % 360.0 - 180.0, lat, height


def parse_csv(text: str, label: str) -> dict[str, list[Epoch]]:
    """Epochs by station code from a CSV table (header first, `#` comment lines skipped)."""
    numbered = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise IngestError(label, "no header line", line=1)
    header_line, header = numbered[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    names = [name.strip() for name in next(csv.reader(io.StringIO(header), delimiter=delimiter))]
    columns = csv_columns(names, label, header_line)
    stations: dict[str, list[Epoch]] = {}
    for line, row in numbered[1:]:
        fields = next(csv.reader(io.StringIO(row), delimiter=delimiter))
        if len(fields) != len(names):
            message = f"expected {len(names)} columns, found {len(fields)}"
            raise IngestError(label, message, line=line)
        values = {role: fields[index].strip() for role, index in columns.items()}
        code = values["code"]
        if not code:
            raise IngestError(
                label, "missing station code", line=line, column=names[columns["code"]]
            )
        stations.setdefault(code, []).append(csv_epoch(values, names, columns, label, line))
    return stations


def csv_columns(names: list[str], label: str, line: int) -> dict[str, int]:
    lower = [name.lower() for name in names]
    columns = {}
    for role, accepted in CSV_ROLES.items():
        found = [lower.index(name) for name in accepted if name in lower]
        if found:
            columns[role] = found[0]
    missing = [CSV_ROLES[role][0] for role in CSV_REQUIRED if role not in columns]
    if missing:
        raise IngestError(label, f"missing required column(s) {missing}", line=line)
    return columns


def csv_epoch(
    values: dict[str, str], names: list[str], columns: dict[str, int], label: str, line: int
) -> Epoch:
    def value(role: str) -> float:
        return number(values[role], label, line, names[columns[role]])

    try:
        date = datetime.date.fromisoformat(values["date"])
    except ValueError:
        message = f"not a date (YYYY-MM-DD): {values['date']!r}"
        raise IngestError(label, message, line=line, column=names[columns["date"]]) from None
    sigmas = tuple(value(role) for role in SIGMAS) if SIGMAS[0] in columns else None
    position = None
    if "latitude" in columns and "longitude" in columns:
        height = value("height") if "height" in columns and values["height"] else None
        position = checked_position(value("longitude"), value("latitude"), height, label, line)
    return Epoch(line, date, tuple(value(role) for role in COMPONENTS), sigmas, position)


def assemble(stations: dict[str, list[Epoch]], label: str) -> list[StationSeries]:
    """Each station's epochs in date order, relative to its first epoch; one date once."""
    if not stations:
        raise IngestError(label, "no data lines", line=2)
    series = []
    for code, epochs in stations.items():
        if len(code) > CODE_LENGTH:
            message = f"station code {code!r} is longer than {CODE_LENGTH} characters"
            raise IngestError(label, message, line=epochs[0].line)
        epochs = sorted(epochs, key=lambda epoch: (epoch.date, epoch.line))
        for previous, epoch in itertools.pairwise(epochs):
            if epoch.date == previous.date:
                message = f"{code} has {epoch.date} twice (also line {previous.line})"
                raise IngestError(label, message, line=epoch.line)
        if len(epochs) < 2:
            raise IngestError(label, f"{code} has a single date", line=epochs[0].line)
        enu = np.array([epoch.enu for epoch in epochs], dtype=np.float64).T
        has_sigmas = epochs[0].sigmas is not None
        sigmas = np.array([e.sigmas for e in epochs], dtype=np.float64).T if has_sigmas else None
        sigmas = np.round(sigmas, 3) if sigmas is not None else None
        series.append(
            StationSeries(
                code=code,
                first_line=min(epoch.line for epoch in epochs),
                dates=[epoch.date for epoch in epochs],
                # The files give micrometres: rounding drops float noise (0.009000000078 mm).
                enu=np.round(enu - enu[:, :1], 3),
                sigmas=sigmas,
                position=epochs[0].position,
            )
        )
    return series


@dataclass
class LoadedSeries:
    code: str
    count: int
    first: datetime.date
    last: datetime.date
    created: bool


def load_series(
    path: Path, network_slug: str, *, create: bool = False, replace: bool = False
) -> tuple[GNSSNetwork, list[LoadedSeries]]:
    """Load every station series in the file into network `network_slug`, in one transaction.

    Missing stations (and the network) are created only with `create`; a station that already
    has a series is reloaded only with `replace`.
    """
    label = str(path)
    parsed = parse_series(path)
    with transaction.atomic():
        network = GNSSNetwork.objects.select_for_update().filter(slug=network_slug).first()
        if network is None and not create:
            message = "no such GNSS network: load it with ingest_gnss, or give --create"
            raise IngestError(network_slug, message)
        if network is None:
            network = GNSSNetwork.objects.create(slug=network_slug, name=network_slug)
        loaded = [store(network, item, label, create=create, replace=replace) for item in parsed]
    return network, loaded


def store(
    network: GNSSNetwork, item: StationSeries, label: str, *, create: bool, replace: bool
) -> LoadedSeries:
    station = GNSSStation.objects.filter(network=network, code=item.code).first()
    created = station is None
    if created:
        station = new_station(network, item, label, create)
    elif GNSSSeries.objects.filter(station=station).exists():
        if not replace:
            message = f"station {item.code} already has a series: give --replace to reload it"
            raise IngestError(label, message, line=item.first_line)
        GNSSSeries.objects.filter(station=station).delete()
    sigmas = item.sigmas.tolist() if item.sigmas is not None else (None, None, None)
    east, north, up = item.enu.tolist()
    GNSSSeries.objects.create(
        station=station,
        dates=item.dates,
        east=east,
        north=north,
        up=up,
        sigma_east=sigmas[0],
        sigma_north=sigmas[1],
        sigma_up=sigmas[2],
        source=Path(label).name[:300],
    )
    return LoadedSeries(item.code, len(item.dates), item.dates[0], item.dates[-1], created)


def new_station(network: GNSSNetwork, item: StationSeries, label: str, create: bool) -> GNSSStation:
    if not create:
        message = f"station {item.code} is not in network {network.slug}: give --create to add it"
        raise IngestError(label, message, line=item.first_line)
    if item.position is None:
        message = f"station {item.code} is new and the file gives no latitude and longitude"
        raise IngestError(label, message, line=item.first_line)
    lon, lat, height = item.position
    east, north, up = item.velocities().tolist()
    return GNSSStation.objects.create(
        network=network,
        code=item.code,
        geom=Point(lon, lat, srid=4326),
        height=height,
        velocity_east=east,
        velocity_north=north,
        velocity_up=up,
    )
