"""Where each exported EGMS column takes its values from, for a chunk of streamed points.

The column names and their order come from groundmotion/egms.py (the one place that knows the
EGMS layout): the level's static columns, in the release generation of the dataset's stored
extras, then its other stored extras, then one `yyyymmdd` column per date. A column's values
come from, in turn: the point's location (latitude, longitude), its stored extras (PointExtra:
easting, northing, height_wgs84, line, pixel, gnss_velocity..., exactly as ingested), a
MeasurementPoint field, easting/northing computed in EPSG:3035 when not stored; else empty.
Decimals: the fewest that give back the stored value (csvtext.choose_decimals).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyproj import Transformer

from groundmotion import egms
from groundmotion.exports.csvtext import choose_decimals
from groundmotion.exports.stream import PointChunk
from groundmotion.models import Dataset, Level

TO_LAEA = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)
COMPUTED_PROJECTED_DECIMALS = 2  # centimetres, as EGMS writes easting/northing
DISPLACEMENT_DECIMALS = 1


@dataclass
class StaticBlock:
    """A chunk's static columns after the pid: values (points x columns, NaN for empty)."""

    names: list[str]
    values: np.ndarray  # float64
    decimals: np.ndarray  # int64, one per column
    least: np.ndarray  # int64: decimals kept when zero (0 integer columns, 1 floats)


def static_columns(dataset: Dataset) -> list[str]:
    """Every static column an export of the dataset writes, pid first (egms.export_columns)."""
    return list(egms.export_columns(str(dataset.level), list(dataset.extra_columns)))


def date_columns(dates: list[datetime.date], prefix: str = "") -> list[str]:
    """EGMS date headers, yyyymmdd (GeoPackage adds a letter prefix: names start with one)."""
    return [f"{prefix}{day:%Y%m%d}" for day in dates]


def column_values(name: str, chunk: PointChunk, dataset: Dataset) -> tuple[np.ndarray, int]:
    """(float64 values, decimals) of one static column (not the pid) for the chunk."""
    stored = egms.canonical_extra(name)
    if name in egms.LOCATION_COLUMNS:
        values = chunk.latitude if name == "latitude" else chunk.longitude
        return values, choose_decimals(values)
    if stored in chunk.extras:
        values = chunk.extras[stored]
        return values, choose_decimals(values)
    if name in egms.PROJECTED_COLUMNS:
        return projected(chunk, dataset)[egms.PROJECTED_COLUMNS.index(name)]
    if name in egms.POINT_FIELDS:
        values = chunk.attributes[egms.POINT_FIELDS[name]]
        return values.astype(np.float64), choose_decimals(values, np.float32)
    return np.full(len(chunk), np.nan), 0


def projected(chunk: PointChunk, dataset: Dataset) -> list[tuple[np.ndarray, int]]:
    """Easting and northing (m, EPSG:3035) from the location, for points without stored ones;
    L3 cells are named by their integer centres."""
    easting, northing = (
        np.asarray(axis) for axis in TO_LAEA.transform(chunk.longitude, chunk.latitude)
    )
    if dataset.level == Level.L3:
        return [(np.rint(easting), 0), (np.rint(northing), 0)]
    return [(easting, COMPUTED_PROJECTED_DECIMALS), (northing, COMPUTED_PROJECTED_DECIMALS)]


def static_block(chunk: PointChunk, dataset: Dataset) -> StaticBlock:
    """The chunk's static columns after the pid, with the decimals each is written with."""
    names = static_columns(dataset)[1:]
    pairs = [column_values(name, chunk, dataset) for name in names]
    values = np.empty((len(chunk), len(names)), dtype=np.float64)
    for index, (column, _) in enumerate(pairs):
        values[:, index] = column
    decimals = np.array([places for _, places in pairs], dtype=np.int64)
    least = np.array(
        [
            least_decimals(name, dataset, places)
            for name, (_, places) in zip(names, pairs, strict=True)
        ],
        dtype=np.int64,
    )
    return StaticBlock(names, values, decimals, least)


def least_decimals(name: str, dataset: Dataset, decimals: int) -> int:
    """0 for EGMS's integer columns (and unknown extras holding integers), else 1."""
    if name in egms.INTEGER_COLUMNS[str(dataset.level)]:
        return 0
    known = set(egms.static_columns(str(dataset.level), egms.generation_of(dataset.extra_columns)))
    return 1 if name in known or decimals > 0 else 0


def chunk_table(chunk: PointChunk, dataset: Dataset, date_prefix: str = "") -> pd.DataFrame:
    """The chunk as a DataFrame of the export's columns, rounded as the CSV writes them."""
    block = static_block(chunk, dataset)
    data: dict[str, np.ndarray] = {"pid": chunk.pids}
    for index, name in enumerate(block.names):
        places = max(int(block.decimals[index]), int(block.least[index]))
        data[name] = np.round(block.values[:, index], places)
    table = pd.DataFrame(data)
    if chunk.series is not None:
        rounded = np.round(chunk.series.astype(np.float64), DISPLACEMENT_DECIMALS)
        names = date_columns(dataset.acquisition_dates, date_prefix)
        table = pd.concat([table, pd.DataFrame(rounded, columns=names)], axis=1)
    return table
