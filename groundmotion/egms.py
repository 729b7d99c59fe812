"""EGMS product columns: names, order and units per level and release generation.

The one place that knows EGMS's CSV layout, shared by ingest (reading) and export (writing).
Units: mm and mm/yr for displacement and velocity, metres for heights and coordinates,
degrees for angles. Static columns come first, then one `yyyymmdd` column per acquisition.

Two release generations exist (EGMS-FORMAT.md): the 2018-2022 layout (`height`,
`height_wgs84`, `rmse`) and the 2020-2024 layout (`height_ortho`, `height_ellipse`, `rmse_ts`,
plus GNSS model columns). Both are read; either can be written.
"""

from __future__ import annotations

import re
from enum import StrEnum

# Level values as groundmotion.models.Level stores them (no Django import here: benchmarks
# and writers use this module without settings).
L2A, L2B, L3 = "l2a", "l2b", "l3"


class Generation(StrEnum):
    G2018 = "2018_2022"
    G2020 = "2020_2024"


# Static columns of each level in file order, 2018-2022 generation.
_L2A_2018 = (
    "pid",
    "cluster_label",
    "mp_type",
    "latitude",
    "longitude",
    "easting",
    "northing",
    "height",
    "height_wgs84",
    "line",
    "pixel",
    "rmse",
    "temporal_coherence",
    "amplitude_dispersion",
    "incidence_angle",
    "track_angle",
    "los_east",
    "los_north",
    "los_up",
    "mean_velocity",
    "mean_velocity_std",
    "acceleration",
    "acceleration_std",
    "seasonality",
    "seasonality_std",
)
_L3_2018 = (
    "pid",
    "easting",
    "northing",
    "height",
    "rmse",
    "mean_velocity",
    "mean_velocity_std",
    "acceleration",
    "acceleration_std",
    "seasonality",
    "seasonality_std",
)

# 2020-2024 renames (old name -> new name) and the GNSS columns it appends.
RENAMED_2020 = {"height": "height_ortho", "height_wgs84": "height_ellipse", "rmse": "rmse_ts"}
GNSS_COLUMNS_2020 = {
    L2A: (),
    L2B: ("gnss_velocity",),
    L3: ("gnss_velocity_n", "gnss_velocity_e", "gnss_velocity_u"),
}


def static_columns(level: str, generation: str = Generation.G2018) -> tuple[str, ...]:
    """EGMS's static column names in file order for a level and release generation."""
    if level == L3:
        names = _L3_2018
    elif level == L2B:
        names = tuple(name for name in _L2A_2018 if name != "cluster_label")
    else:
        names = _L2A_2018
    if generation == Generation.G2018:
        return names
    renamed = tuple(RENAMED_2020.get(name, name) for name in names)
    return renamed + GNSS_COLUMNS_2020[str(level)]


# EGMS column name (either generation) -> MeasurementPoint field. Units are identical.
POINT_FIELDS = {
    "height": "height",
    "height_ortho": "height",
    "rmse": "rmse",
    "rmse_ts": "rmse",
    "mp_type": "mp_type",
    "temporal_coherence": "temporal_coherence",
    "amplitude_dispersion": "amplitude_dispersion",
    "incidence_angle": "incidence_angle",
    "track_angle": "track_angle",
    "los_east": "los_east",
    "los_north": "los_north",
    "los_up": "los_up",
    "mean_velocity": "velocity",
    "mean_velocity_std": "velocity_std",
    "acceleration": "acceleration",
    "acceleration_std": "acceleration_std",
    "seasonality": "seasonality",
    "seasonality_std": "seasonality_std",
}
# The inverse, written by exports (the 2018-2022 generation's names).
EGMS_NAME_OF_FIELD = {
    field: name for name, field in POINT_FIELDS.items() if name not in RENAMED_2020.values()
}

# Columns with no MeasurementPoint field that ingest keeps per point as extras (float64),
# so that exports can write them back: canonical (2018-2022) names.
EXTRA_ALIASES = {"height_ellipse": "height_wgs84"}
KNOWN_EXTRAS = (
    "cluster_label",
    "easting",
    "northing",
    "height_wgs84",
    "line",
    "pixel",
    "gnss_velocity",
    "gnss_velocity_n",
    "gnss_velocity_e",
    "gnss_velocity_u",
)

# Columns EGMS writes as integers (every other numeric column as a float: -1.0, not -1).
INTEGER_COLUMNS = {
    L2A: ("cluster_label", "mp_type", "line", "pixel"),
    L2B: ("mp_type", "line", "pixel"),
    L3: ("easting", "northing"),  # cell centres
}


def canonical_extra(name: str) -> str:
    """The name an extra column is stored under (height_ellipse is kept as height_wgs84)."""
    return EXTRA_ALIASES.get(name, name)


def generation_of(extra_columns: list[str]) -> Generation:
    """The release generation a dataset's stored extras come from: 2020-2024 files carry
    GNSS model columns (L2b, L3); anything else is written with the 2018-2022 names."""
    gnss = {name for names in GNSS_COLUMNS_2020.values() for name in names}
    return Generation.G2020 if gnss & set(extra_columns) else Generation.G2018


def export_columns(level: str, extra_columns: list[str]) -> tuple[str, ...]:
    """The static columns an export writes, in file order: the level's EGMS columns (in the
    generation of the stored extras), then any other stored extra (unknown numeric columns
    of the source), so that a re-ingest finds every value it came with."""
    names = static_columns(level, generation_of(extra_columns))
    written = {canonical_extra(name) for name in names}
    return names + tuple(name for name in extra_columns if name not in written)


LOCATION_COLUMNS = ("latitude", "longitude")
PROJECTED_COLUMNS = ("easting", "northing")
PROJECTED_CRS = "EPSG:3035"  # ETRS89-LAEA
L3_GRID_SIZE_M = 100

DATE_HEADER = re.compile(r"^[A-Za-z]?\d+$")  # 20200103, or D20200103 in TRE-style files
DATE_FORMAT = "%Y%m%d"

# File names: EGMS_L2a_088_0282_IW2_VV_2018_2022_1, EGMS_L3_E40N28_100km_U_2018_2022_1.
BURST_NAME = re.compile(
    r"EGMS_(?P<level>L2[ab])_(?P<track>\d{3})_(?P<burst>\d{4})_IW(?P<swath>\d)_(?P<pol>[HV]{2})"
    r"_(?P<first>\d{4})_(?P<last>\d{4})_(?P<version>\d+)",
    re.IGNORECASE,
)
TILE_NAME = re.compile(
    r"EGMS_(?P<level>L3)_(?P<tile>E\d+N\d+)_(?P<size>\d+)km_(?P<component>[EUN])"
    r"_(?P<first>\d{4})_(?P<last>\d{4})_(?P<version>\d+)",
    re.IGNORECASE,
)
COMPONENT_LETTERS = {"E": "east-west", "U": "up-down"}
