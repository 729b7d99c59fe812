"""GNSS calibration (L2a -> L2b): station velocities to points, and a long-wavelength surface.

Units: mm/yr, kilometres for the local plane coordinates. Positive LOS is towards the
satellite. The surface is a polynomial in local x, y (km) fitted by weighted least squares
to InSAR-minus-GNSS LOS velocity differences at the stations:
- order 0 (offset) with fewer than 3 stations, order 1 (plane) with 3 to 11,
- order 2 (quadratic) from 12 stations: at least two stations per coefficient, so that a
  single bad station cannot bend the surface. Documented in the README.
"""

from __future__ import annotations

import numpy as np

KM_PER_DEGREE = 111.32


def local_km(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> tuple:
    """Equirectangular local coordinates in km about (lon0, lat0) degrees."""
    x = (np.asarray(lon, dtype=np.float64) - lon0) * KM_PER_DEGREE * np.cos(np.radians(lat0))
    y = (np.asarray(lat, dtype=np.float64) - lat0) * KM_PER_DEGREE
    return x, y


def interpolate_stations(
    station_x: np.ndarray,
    station_y: np.ndarray,
    values: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    power: float = 2.0,
) -> np.ndarray:
    """Inverse-distance-weighted station values (mm/yr) at points (km coordinates).

    A point on a station takes its value exactly.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), 200_000):
        part = slice(start, start + 200_000)
        distance = np.hypot(x[part, None] - station_x[None, :], y[part, None] - station_y[None, :])
        weights = 1.0 / np.maximum(distance, 1e-6) ** power
        out[part] = (weights @ values) / weights.sum(axis=1)
    return out


def project_on_los(
    east: np.ndarray,
    north: np.ndarray,
    up: np.ndarray,
    los_east: np.ndarray,
    los_north: np.ndarray,
    los_up: np.ndarray,
) -> np.ndarray:
    """ENU velocities (mm/yr) projected on the ground-to-satellite unit vector."""
    return east * los_east + north * los_north + up * los_up


def surface_order(station_count: int) -> int:
    """The polynomial order the stations allow (see module docstring)."""
    if station_count >= 12:
        return 2
    if station_count >= 3:
        return 1
    return 0


def surface_design(x: np.ndarray, y: np.ndarray, order: int) -> np.ndarray:
    """Polynomial terms up to `order` in x and y (km): 1; x, y; x², xy, y²."""
    columns = [np.ones_like(x)]
    if order >= 1:
        columns += [x, y]
    if order >= 2:
        columns += [x * x, x * y, y * y]
    return np.column_stack(columns)


def fit_surface(
    x: np.ndarray,
    y: np.ndarray,
    difference: np.ndarray,
    std: np.ndarray | None = None,
    order: int | None = None,
) -> np.ndarray:
    """Weighted least-squares polynomial coefficients of InSAR-minus-GNSS (mm/yr)."""
    if len(x) == 0:
        raise ValueError("no station overlaps the dataset: nothing to calibrate against")
    order = surface_order(len(x)) if order is None else order
    design = surface_design(np.asarray(x, float), np.asarray(y, float), order)
    weights = np.ones(len(x)) if std is None else 1.0 / np.maximum(np.asarray(std), 0.05)
    coefficients, *_ = np.linalg.lstsq(
        design * weights[:, None], np.asarray(difference) * weights, rcond=None
    )
    return coefficients


def evaluate_surface(coefficients: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The fitted surface (mm/yr) at points (km)."""
    order = {1: 0, 3: 1, 6: 2}[len(coefficients)]
    return surface_design(np.asarray(x, float), np.asarray(y, float), order) @ coefficients


def _components(count: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label of each track, given the overlapping pairs."""
    label = np.arange(count)
    changed = True
    while changed:
        changed = False
        for first, second in pairs:
            low = min(label[first], label[second])
            if label[first] != low or label[second] != low:
                label[label == label[first]] = low
                label[label == label[second]] = low
                changed = True
    return label


def harmonise_offsets(
    count: int,
    pairs: np.ndarray,
    differences: np.ndarray,
    weights: np.ndarray,
    anchors: np.ndarray,
) -> np.ndarray:
    """Velocity offsets (mm/yr) that make overlapping tracks of one pass agree.

    pairs: (m, 2) track indices i, j whose overlap shows a median calibrated velocity
    difference v_i - v_j = differences (mm/yr), with weights (e.g. common cells). Solves
    o_i - o_j = d_ij by weighted least squares within each connected group of tracks, with
    the anchor-weighted mean offset of the group held at zero (anchors: GNSS stations tied
    per track), so the group keeps its GNSS level on average. Tracks with no overlap get 0.
    Subtract o_i from track i's velocities.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    offsets = np.zeros(count)
    label = _components(count, pairs)
    for group in np.unique(label):
        members = np.flatnonzero(label == group)
        if len(members) < 2:
            continue
        position = {int(track): k for k, track in enumerate(members)}
        inside = [r for r, (i, _) in enumerate(pairs) if int(i) in position]
        size = len(members)
        # KKT system of the constrained least squares: [[AᵀWA, a], [aᵀ, 0]].
        system = np.zeros((size + 1, size + 1))
        right = np.zeros(size + 1)
        for r in inside:
            i, j = position[int(pairs[r, 0])], position[int(pairs[r, 1])]
            w, d = weights[r], differences[r]
            system[i, i] += w
            system[j, j] += w
            system[i, j] -= w
            system[j, i] -= w
            right[i] += w * d
            right[j] -= w * d
        anchor = np.maximum(np.asarray(anchors, dtype=float)[members], 1e-3)
        system[:size, size] = system[size, :size] = anchor / anchor.sum()
        offsets[members] = np.linalg.solve(system, right)[:size]
    return offsets
