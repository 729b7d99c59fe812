"""EGMS column layouts per product level, and a chunk of points as a table of those columns.

Columns follow the EGMS Product Description (v2.0): L2a, L2b and L3 static columns, then one
`yyyymmdd` column per acquisition (displacement, mm, 1 decimal). Columns the service does not
store (cluster_label, height_wgs84, line, pixel) are written empty so that EGMS readers find
every column they expect. easting/northing are EPSG:3035 (ETRS89-LAEA) for every level.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
from pyproj import Transformer

from groundmotion.exports.stream import PointChunk
from groundmotion.models import Dataset, Level

TO_LAEA = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)

# EGMS column -> (our attribute, decimals). None means not stored: written empty.
STATIC_COLUMNS: dict[str, tuple[str | None, int]] = {
    "pid": ("pid", 0),
    "cluster_label": (None, 0),
    "mp_type": ("mp_type", 1),
    "latitude": ("latitude", 7),
    "longitude": ("longitude", 7),
    "easting": ("easting", 2),
    "northing": ("northing", 2),
    "height": ("height", 2),
    "height_wgs84": (None, 0),
    "line": (None, 0),
    "pixel": (None, 0),
    "rmse": ("rmse", 2),
    "temporal_coherence": ("temporal_coherence", 3),
    "amplitude_dispersion": ("amplitude_dispersion", 3),
    "incidence_angle": ("incidence_angle", 3),
    "track_angle": ("track_angle", 3),
    "los_east": ("los_east", 4),
    "los_north": ("los_north", 4),
    "los_up": ("los_up", 4),
    "mean_velocity": ("velocity", 3),
    "mean_velocity_std": ("velocity_std", 3),
    "acceleration": ("acceleration", 3),
    "acceleration_std": ("acceleration_std", 3),
    "seasonality": ("seasonality", 3),
    "seasonality_std": ("seasonality_std", 3),
}
L2B_COLUMNS = [name for name in STATIC_COLUMNS if name != "cluster_label"]
L3_COLUMNS = ["pid", "easting", "northing", "height", "rmse", "mean_velocity",
              "mean_velocity_std", "acceleration", "acceleration_std", "seasonality",
              "seasonality_std"]  # fmt: skip
LEVEL_COLUMNS = {Level.L2A: list(STATIC_COLUMNS), Level.L2B: L2B_COLUMNS, Level.L3: L3_COLUMNS}
DISPLACEMENT_DECIMALS = 1


def static_columns(dataset: Dataset) -> list[str]:
    return LEVEL_COLUMNS[Level(dataset.level)]


def date_columns(dates: list[datetime.date], prefix: str = "") -> list[str]:
    """EGMS date headers, yyyymmdd (GeoPackage adds a letter prefix: names start with one)."""
    return [f"{prefix}{day:%Y%m%d}" for day in dates]


def chunk_values(chunk: PointChunk, dataset: Dataset) -> dict[str, np.ndarray]:
    """Every source value a column may need, by our attribute name."""
    easting, northing = TO_LAEA.transform(chunk.longitude, chunk.latitude)
    if dataset.level == Level.L3:
        # L3 cells are named by their integer centres in EPSG:3035.
        easting, northing = np.rint(easting), np.rint(northing)
    values = dict(chunk.attributes)
    values.update(pid=chunk.pids, latitude=chunk.latitude, longitude=chunk.longitude,
                  easting=np.asarray(easting), northing=np.asarray(northing))  # fmt: skip
    return values


def chunk_table(chunk: PointChunk, dataset: Dataset, date_prefix: str = "") -> pd.DataFrame:
    """The chunk as a DataFrame of the level's EGMS columns, rounded as EGMS writes them."""
    values = chunk_values(chunk, dataset)
    data: dict[str, np.ndarray] = {}
    for name in static_columns(dataset):
        source, decimals = STATIC_COLUMNS[name]
        if source is None:
            data[name] = np.full(len(chunk), np.nan)
        elif source == "pid":
            data[name] = values["pid"]
        else:
            data[name] = np.round(values[source].astype(np.float64), decimals)
    table = pd.DataFrame(data)
    if chunk.series is not None:
        rounded = np.round(chunk.series.astype(np.float64), DISPLACEMENT_DECIMALS)
        names = date_columns(dataset.acquisition_dates, date_prefix)
        table = pd.concat([table, pd.DataFrame(rounded, columns=names)], axis=1)
    return table
