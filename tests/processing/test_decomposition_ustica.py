"""Decomposing the real EGMS L2b bursts over Ustica reproduces the real EGMS L3 files.

The L3 files were produced from these two L2b files (SOURCES.md). Measured: all 522 L3 cells
are found; mean velocity RMSE ~0.03 mm/yr for E and U (the files round to 0.1 mm/yr), series
RMSE ~0.15 mm. Without the GNSS north removal, as those files were made.
"""

from __future__ import annotations

import datetime
import zipfile

import numpy as np
import pandas as pd
import pytest

from processing.products.decompose import Geometry, decompose_arrays
from tests.real_data import REAL_DATA

DATA = REAL_DATA / "egms-ortho-product"
ASCENDING = "EGMS_L2b_117_0227_IW2_VV_2020_2024_1.zip"
DESCENDING = "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip"
EAST = "EGMS_L3_E45N17_100km_E_2020_2024_1.zip"
UP = "EGMS_L3_E45N17_100km_U_2020_2024_1.zip"
TILE = (4_500_000, 1_700_000, 4_600_000, 1_800_000)  # E45N17

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="real EGMS files not available")


def read_zip(name: str) -> pd.DataFrame:
    with zipfile.ZipFile(DATA / name) as archive:
        csv = next(n for n in archive.namelist() if n.endswith(".csv"))
        with archive.open(csv) as handle:
            return pd.read_csv(handle)


def date_columns(frame: pd.DataFrame) -> list[str]:
    return [column for column in frame.columns if column.isdigit()]


def days(columns: list[str]) -> np.ndarray:
    epoch = datetime.date(1970, 1, 1)
    return np.array(
        [(datetime.datetime.strptime(c, "%Y%m%d").date() - epoch).days for c in columns]
    )


def geometry(frame: pd.DataFrame) -> Geometry:
    columns = date_columns(frame)
    return Geometry(
        frame.easting.to_numpy(float),
        frame.northing.to_numpy(float),
        frame.los_east.to_numpy(float),
        frame.los_north.to_numpy(float),
        frame.los_up.to_numpy(float),
        frame[columns].to_numpy(np.float32),
        days(columns),
    )


@pytest.fixture(scope="module")
def result_and_truth() -> tuple[pd.DataFrame, dict, pd.DataFrame, pd.DataFrame]:
    result = decompose_arrays([geometry(read_zip(ASCENDING)), geometry(read_zip(DESCENDING))])
    cells = pd.DataFrame(
        {
            "easting": result["easting"].astype(int),
            "northing": result["northing"].astype(int),
            "index": np.arange(len(result["easting"])),
        }
    )
    return cells, result, read_zip(EAST), read_zip(UP)


def test_it_finds_every_l3_cell_of_the_tile(result_and_truth) -> None:
    cells, _, east, up = result_and_truth
    inside = cells[(cells.easting < TILE[2]) & (cells.northing < TILE[3])]
    keys = set(zip(inside.easting, inside.northing, strict=True))
    assert keys == set(zip(east.easting, east.northing, strict=True))
    assert keys == set(zip(up.easting, up.northing, strict=True))
    assert len(keys) == 522


@pytest.mark.parametrize(("component", "name"), [("east", EAST), ("up", UP)])
def test_it_reproduces_velocities_and_series_cell_by_cell(result_and_truth, component, name):
    cells, result, east, up = result_and_truth
    truth = east if component == "east" else up
    merged = truth.merge(cells, on=["easting", "northing"])
    assert len(merged) == 522
    index = merged["index"].to_numpy()
    ours = result[component]
    velocity_error = ours["fit"]["velocity"][index] - merged.mean_velocity.to_numpy()
    velocity_rmse = float(np.sqrt(np.mean(velocity_error**2)))
    assert velocity_rmse < 0.06  # the files round velocities to 0.1 mm/yr
    assert result["days"].tolist() == days(date_columns(truth)).tolist()
    series_error = ours["series"][index] - merged[date_columns(truth)].to_numpy()
    series_rmse = float(np.sqrt(np.mean(series_error**2)))
    assert series_rmse < 0.3  # mm; the files round to 0.1 mm
    print(
        f"Ustica {component}: 522 cells, velocity RMSE {velocity_rmse:.3f} mm/yr, "
        f"series RMSE {series_rmse:.3f} mm"
    )


def test_it_names_cells_with_the_egms_pids(result_and_truth) -> None:
    from processing.kernels.decomposition import cell_pids

    _, _, east, up = result_and_truth
    for truth in (east, up):
        column = (truth.easting.to_numpy() // 100).astype(np.int64)
        row = (truth.northing.to_numpy() // 100).astype(np.int64)
        assert cell_pids(column, row).tolist() == truth.pid.tolist()
