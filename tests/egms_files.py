"""Test-side writers of EGMS product files from the synthetic demo region (plain numpy)."""

from __future__ import annotations

import datetime
import io
import zipfile
from pathlib import Path

import numpy as np

from fixtures import demo_region
from groundmotion import egms


def demo_track(points: int, years: float = 1.0, seed: int = 5, track: int = 0) -> tuple:
    """(dates, one chunk of the demo generator) for a small track."""
    dates = demo_region.acquisition_dates(years, seed)
    chunk = next(
        demo_region.generate_track(demo_region.TRACKS[track], points, dates, seed, chunk=points)
    )
    return dates, chunk


def egms_columns(chunk: dict, level: str, generation: str) -> dict[str, np.ndarray]:
    """Every static EGMS column for the chunk, by the generation's names."""
    n = len(chunk["pid"])
    # Demo attributes carry MeasurementPoint field names; egms.py names their EGMS columns.
    by_2018 = {egms.EGMS_NAME_OF_FIELD[key]: value for key, value in chunk["attributes"].items()}
    by_2018.update(
        pid=chunk["pid"],
        latitude=chunk["lat"],
        longitude=chunk["lon"],
        cluster_label=np.arange(n) % 7,
        easting=3_400_000 + np.arange(n) * 1.25,
        northing=2_300_000 + np.arange(n) * 0.5,
        height_wgs84=chunk["attributes"]["height"] + 50,
        line=np.arange(n) % 1500,
        pixel=np.arange(n) % 20000,
        gnss_velocity=np.full(n, -0.4),
    )
    renamed = {new: old for old, new in egms.RENAMED_2020.items()}
    return {
        name: by_2018[renamed.get(name, name)] for name in egms.static_columns(level, generation)
    }


def egms_csv_text(
    columns: dict[str, np.ndarray],
    series: np.ndarray,
    dates: list[datetime.date],
    delimiter: str = ",",
    date_prefix: str = "",
) -> str:
    """The CSV text: static columns, then one yyyymmdd column per date (3 decimals)."""
    header = [*columns, *(date_prefix + d.strftime("%Y%m%d") for d in dates)]
    lines = [delimiter.join(header)]
    statics = [
        values.astype(str) if values.dtype.kind in "US" else np.char.mod("%.6f", values)
        for values in columns.values()
    ]
    body = np.char.mod("%.3f", series)
    for row in range(len(series)):
        lines.append(delimiter.join([*(column[row] for column in statics), *body[row]]))
    return "\n".join(lines) + "\n"


def write_zip(path: Path, csv_text: str, xml: str) -> Path:
    """An EGMS-style ZIP: the CSV and its XML header, named after the ZIP."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(path.stem + ".csv", csv_text)
        archive.writestr(path.stem + ".xml", xml)
    path.write_bytes(buffer.getvalue())
    return path
