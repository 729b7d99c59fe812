"""L3 decomposition: LOS series of two or more geometries -> east-west and up-down per cell.

Units: mm, mm/yr, metres (EPSG:3035 easting/northing), days. Positive LOS is towards the
satellite; east positive eastwards, up positive upwards. North is neglected (its LOS
sensitivity is ~0.1): with a GNSS network its projection is removed before solving.

Steps (EGMS ATBD, L3 Ortho): grid cells of `cell_size` metres whose centres sit at
k·size + size/2; series resampled linearly onto a common 6-day grid; per cell and date,
east and up from the weighted least-squares solution over every point of the cell,
[los_east, los_up]·[east, up] = d; errors from the a-posteriori residual variance.
"""

from __future__ import annotations

import numpy as np

from processing.kernels._numba import parallel_kernel, prange


def cell_indices(
    easting: np.ndarray, northing: np.ndarray, cell_size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Integer cell column and row: a cell spans [k·size, (k+1)·size) in EPSG:3035 metres.

    Checked on the Ustica EGMS L3 files: every one of their 522 cells is found this way.
    """
    column = np.floor(np.asarray(easting) / cell_size).astype(np.int64)
    row = np.floor(np.asarray(northing) / cell_size).astype(np.int64)
    return column, row


def cell_centres(column: np.ndarray, row: np.ndarray, cell_size: float) -> tuple:
    """Cell centres (easting, northing) in metres."""
    return column * cell_size + cell_size / 2, row * cell_size + cell_size / 2


BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PID_PREFIX = "10"
PID_DIGITS = 8


def cell_pids(column: np.ndarray, row: np.ndarray) -> np.ndarray:
    """EGMS L3 pids: "10" + eight base-62 digits (0-9, A-Z, a-z) of row·2³² + column.

    Found from the real EGMS L3 files (no published rule found): it reproduces all 522
    pids of the Ustica tiles E45N17 (E and U), whose cells are 100 m. Columns and rows
    count cells of the grid's own size from the EPSG:3035 origin; whether EGMS's prefix
    "10" encodes the 100 m size is unknown, so other sizes keep it too.
    """
    value = (np.asarray(row, dtype=np.int64) << 32) + np.asarray(column, dtype=np.int64)
    if np.any(np.asarray(column) < 0) or np.any(np.asarray(row) < 0):
        raise ValueError("cell indices must be non-negative (EPSG:3035 covers Europe)")
    digits = np.empty((len(value), PID_DIGITS), dtype="<U1")
    alphabet = np.array(list(BASE62))
    for position in range(PID_DIGITS - 1, -1, -1):
        digits[:, position] = alphabet[value % 62]
        value = value // 62
    return np.char.add(PID_PREFIX, np.ascontiguousarray(digits).view(f"<U{PID_DIGITS}")[:, 0])


def regular_days(first_day: int, last_day: int, step_days: int = 6) -> np.ndarray:
    """Days of the common grid from first_day to last_day inclusive (int64)."""
    return np.arange(first_day, last_day + 1, step_days, dtype=np.int64)


@parallel_kernel
def _resample_kernel(series, source_days, target_days, out):
    m = source_days.shape[0]
    for i in prange(series.shape[0]):
        previous = -1
        k = 0
        for j in range(target_days.shape[0]):
            day = target_days[j]
            # Advance to the first finite source sample at or after `day`.
            while k < m and (source_days[k] < day or series[i, k] != series[i, k]):
                if series[i, k] == series[i, k]:
                    previous = k
                k += 1
            if k < m and previous >= 0:
                span = source_days[k] - source_days[previous]
                weight = (day - source_days[previous]) / span
                out[i, j] = series[i, previous] * (1 - weight) + series[i, k] * weight
            elif k < m:
                out[i, j] = series[i, k]
            elif previous >= 0:
                out[i, j] = series[i, previous]
            else:
                out[i, j] = np.nan


def resample_series(
    series: np.ndarray, source_days: np.ndarray, target_days: np.ndarray
) -> np.ndarray:
    """Linear interpolation in time of each series (points x dates, mm; NaN = missing).

    Dates outside a series' span take its first or last value. Returns float32.
    """
    series = np.ascontiguousarray(series, dtype=np.float32)
    out = np.empty((series.shape[0], len(target_days)), dtype=np.float32)
    _resample_kernel(
        series,
        np.ascontiguousarray(source_days, dtype=np.float64),
        np.ascontiguousarray(target_days, dtype=np.float64),
        out,
    )
    return out


@parallel_kernel
def _solve_kernel(starts, los_east, los_up, weights, series, east, up, east_std, up_std):
    cells = starts.shape[0] - 1
    dates = series.shape[1]
    for c in prange(cells):
        begin, end = starts[c], starts[c + 1]
        for j in range(dates):
            a11 = 0.0
            a12 = 0.0
            a22 = 0.0
            b1 = 0.0
            b2 = 0.0
            count = 0
            for p in range(begin, end):
                value = np.float64(series[p, j])
                if value == value:
                    w = weights[p]
                    a11 += w * los_east[p] * los_east[p]
                    a12 += w * los_east[p] * los_up[p]
                    a22 += w * los_up[p] * los_up[p]
                    b1 += w * los_east[p] * value
                    b2 += w * los_up[p] * value
                    count += 1
            determinant = a11 * a22 - a12 * a12
            if count < 2 or determinant <= 1e-9 * (a11 * a22):
                east[c, j] = np.nan
                up[c, j] = np.nan
                continue
            x1 = (a22 * b1 - a12 * b2) / determinant
            x2 = (a11 * b2 - a12 * b1) / determinant
            east[c, j] = x1
            up[c, j] = x2
            residual = 0.0
            for p in range(begin, end):
                value = np.float64(series[p, j])
                if value == value:
                    r = value - los_east[p] * x1 - los_up[p] * x2
                    residual += weights[p] * r * r
            # With two observations the fit is exact: no a-posteriori variance.
            variance = residual / (count - 2) if count > 2 else np.nan
            east_std[c, j] = np.sqrt(variance * a22 / determinant)
            up_std[c, j] = np.sqrt(variance * a11 / determinant)


def solve_cells(
    cell_starts: np.ndarray,
    los_east: np.ndarray,
    los_up: np.ndarray,
    series: np.ndarray,
    weights: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """East and up per cell and date from points sorted by cell.

    cell_starts: (cells + 1) offsets into the point arrays; series: points x dates (mm).
    weights: per point (1/variance), default 1. Returns cells x dates float32 arrays east,
    up (mm) and their standard deviations east_std, up_std (mm, NaN when undetermined).
    """
    series = np.ascontiguousarray(series, dtype=np.float32)
    cells, dates = len(cell_starts) - 1, series.shape[1]
    out = {
        name: np.empty((cells, dates), dtype=np.float32)
        for name in ("east", "up", "east_std", "up_std")
    }
    if weights is None:
        weights = np.ones(len(los_east))
    _solve_kernel(
        np.ascontiguousarray(cell_starts, dtype=np.int64),
        np.ascontiguousarray(los_east, dtype=np.float64),
        np.ascontiguousarray(los_up, dtype=np.float64),
        np.ascontiguousarray(weights, dtype=np.float64),
        series,
        out["east"],
        out["up"],
        out["east_std"],
        out["up_std"],
    )
    return out


def group_by_cell(
    column: np.ndarray, row: np.ndarray, geometry: np.ndarray, geometries: int = 2
) -> dict[str, np.ndarray]:
    """Sort points by cell and keep cells seen by every geometry.

    Returns order (point indices, sorted by cell, only kept cells), starts (offsets,
    cells + 1), column and row per kept cell.
    """
    key = (row.astype(np.int64) << 32) + (column.astype(np.int64) & 0xFFFFFFFF)
    order = np.argsort(key, kind="stable")
    keys, counts = np.unique(key[order], return_counts=True)
    seen = np.zeros((len(keys), geometries), dtype=bool)
    cell_of_point = np.repeat(np.arange(len(keys)), counts)
    seen[cell_of_point, geometry[order]] = True
    keep = seen.all(axis=1)
    kept_points = keep[cell_of_point]
    kept_counts = counts[keep]
    starts = np.concatenate([[0], np.cumsum(kept_counts)])
    kept_keys = keys[keep]
    return {
        "order": order[kept_points],
        "starts": starts,
        "column": (kept_keys & 0xFFFFFFFF).astype(np.int64) - ((kept_keys & 0x80000000) << 1),
        "row": kept_keys >> 32,
    }
