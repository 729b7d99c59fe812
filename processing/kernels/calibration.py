"""GNSS calibration (L2a -> L2b): station velocities to points, and a long-wavelength surface.

Units: mm/yr, kilometres for the local plane coordinates. Positive LOS is towards the
satellite. The surface is a polynomial in local x, y (km) fitted by weighted least squares
to InSAR-minus-GNSS LOS velocity differences at the stations:
- order 0 (offset) with fewer than 3 stations, order 1 (plane) with 3 to 11,
- order 2 (quadratic) from 12 stations: at least two stations per coefficient, so that a
  single bad station cannot bend the surface. Documented in the README.
The count only bounds the order: `choose_surface` keeps the lower order when it predicts the
left-out stations better (leave-one-station-out), and rejects a station whose left-out
misfit is far outside the others' (a monument moving on its own), from 5 stations up.
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


TRIM_SHARE = 0.2
LOCAL_PLANE_POINTS = 10


def tie_velocity(
    velocities: np.ndarray, stds: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[float, float]:
    """The InSAR velocity at a station (x = y = 0, km) from the points around it, and its
    std (mm/yr).

    Points cluster where buildings are, rarely centred on the station: their mean or median
    is the ground motion at their centroid, biased wherever the motion has a gradient (a
    subsidence bowl). From LOCAL_PLANE_POINTS points up, a plane in x, y is fitted to them
    and read at the station, after the highest and lowest TRIM_SHARE of its residuals are
    cut (a few points on moving buildings, as the median would), if its slopes pass an F
    test; otherwise, and with fewer points, the trimmed mean. The std is the points' robust
    scatter about the estimate over the square root of their count, plus the part of that
    scatter their own stds do not explain. One or two points show no scatter: their std is 0
    and the GNSS std alone weighs the tie (a point's own velocity_std need not describe its
    velocity column: make_demo's is noise-free).
    """
    values = np.asarray(velocities, dtype=np.float64)
    if len(values) < 3:
        return float(values.mean()), 0.0
    keep = np.ones(len(values), dtype=bool)
    design = np.column_stack([np.ones(len(values)), x, y])
    if len(values) < LOCAL_PLANE_POINTS:
        design = design[:, :1]
    for _ in range(2):
        coefficients = np.linalg.lstsq(design[keep], values[keep], rcond=None)[0]
        residual = values - design @ coefficients
        low, high = np.quantile(residual, [TRIM_SHARE, 1 - TRIM_SHARE])
        keep = (residual >= low) & (residual <= high)
    coefficients = np.linalg.lstsq(design[keep], values[keep], rcond=None)[0]
    if design.shape[1] == 3 and not _gradient_shows(values[keep], design[keep], coefficients):
        coefficients = np.array([values[keep].mean()])  # flat ground: the plane only adds noise
        design = design[:, :1]
    residual = values - design @ coefficients
    scatter = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    stds = np.asarray(stds, dtype=np.float64)
    noise = float(np.nanmedian(stds)) if np.isfinite(stds).any() else 0.0
    # Scatter beyond the points' own noise is ground moving differently within the radius:
    # reading it at the station is uncertain by about that much, however many points.
    moving = max(scatter**2 - noise**2, 0.0)
    return float(coefficients[0]), float(np.sqrt(max(scatter, 1e-3) ** 2 / len(values) + moving))


GRADIENT_F = 4.0  # about the 2 % point of F(2, n) for the tie sizes met


def _gradient_shows(values: np.ndarray, design: np.ndarray, coefficients: np.ndarray) -> bool:
    """Whether the plane explains the points better than their mean by more than noise would
    (F test of the two slopes)."""
    plane = float(np.sum((values - design @ coefficients) ** 2))
    flat = float(np.sum((values - values.mean()) ** 2))
    spare = len(values) - 3
    return spare > 0 and plane > 0 and (flat - plane) / 2 / (plane / spare) > GRADIENT_F


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


def surface_covariance(
    x: np.ndarray, y: np.ndarray, std: np.ndarray, order: int, scale: float = 1.0
) -> np.ndarray:
    """Covariance (mm/yr)² of the coefficients: (GᵀWG)⁻¹ times the variance factor `scale`."""
    design = surface_design(np.asarray(x, float), np.asarray(y, float), order)
    weights = 1.0 / np.maximum(np.asarray(std, float), 0.05) ** 2
    return np.linalg.pinv(design.T @ (design * weights[:, None])) * scale


def surface_std(covariance: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Standard deviation (mm/yr) of the fitted surface at points (km)."""
    order = {1: 0, 3: 1, 6: 2}[len(covariance)]
    design = surface_design(np.asarray(x, float), np.asarray(y, float), order)
    variance = np.zeros(len(design))
    for j, k in np.ndindex(covariance.shape):  # term by term: see evaluate_surface
        variance += design[:, j] * covariance[j, k] * design[:, k]
    return np.sqrt(np.maximum(variance, 0.0))


SITE_KM = 2.0


def sites(x: np.ndarray, y: np.ndarray, within_km: float = SITE_KM) -> np.ndarray:
    """A label per station: stations closer than within_km (chained) share one site."""
    near = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) < within_km
    pairs = np.argwhere(np.triu(near, k=1))
    return _components(len(x), pairs)


def leave_one_out(
    x: np.ndarray,
    y: np.ndarray,
    difference: np.ndarray,
    std: np.ndarray,
    order: int,
    site: np.ndarray | None = None,
) -> np.ndarray:
    """Each station's misfit (mm/yr) against the surface fitted to the other stations
    (outside its site, if sites are given: neighbours share errors, such as ground moving
    under both, that would hide each other).

    The others fit `order` if they can, else the order their count allows; NaN when a
    station is alone.
    """
    x, y, difference = (np.asarray(a, float) for a in (x, y, difference))
    site = np.arange(len(x)) if site is None else site
    out = np.full(len(x), np.nan)
    for k in range(len(x)):
        others = site != site[k]
        if not others.any():
            continue
        kept = min(order, surface_order(int(others.sum())))
        coefficients = fit_surface(x[others], y[others], difference[others], std[others], kept)
        out[k] = difference[k] - evaluate_surface(coefficients, x[k : k + 1], y[k : k + 1])[0]
    return out


COEFFICIENTS = {0: 1, 1: 3, 2: 6}
REJECT_FROM_STATIONS = 5
REJECT_SIGMAS = 4.0


def choose_surface(x: np.ndarray, y: np.ndarray, difference: np.ndarray, std: np.ndarray) -> dict:
    """The surface order and the stations kept (see module docstring).

    Returns order, kept (bool per station) and the leave-one-out misfits (mm/yr) of every
    station against the surface of the kept others (`loso`).
    """
    x, y, difference, std = (np.asarray(a, float) for a in (x, y, difference, std))
    kept = np.ones(len(x), dtype=bool)
    # Rejection first, with the order the count allows: a bad station must not pick the order.
    while kept.sum() >= max(REJECT_FROM_STATIONS, 0.75 * len(x)):
        worst, score = _worst_station(x[kept], y[kept], difference[kept], std[kept])
        if score <= REJECT_SIGMAS:
            break
        kept[np.flatnonzero(kept)[worst]] = False
    order = _best_order(x[kept], y[kept], difference[kept], std[kept])
    out = np.full(len(x), np.nan)
    out[kept] = leave_one_out(x[kept], y[kept], difference[kept], std[kept], order)
    if (~kept).any():
        coefficients = fit_surface(x[kept], y[kept], difference[kept], std[kept], order)
        rejected = ~kept
        surface = evaluate_surface(coefficients, x[rejected], y[rejected])
        out[rejected] = difference[rejected] - surface
    return {"order": order, "kept": kept, "loso": out}


def _worst_station(
    x: np.ndarray, y: np.ndarray, difference: np.ndarray, std: np.ndarray
) -> tuple[int, float]:
    """The station least like the others and how unlike: its misfit against a plane fitted
    to the stations outside its site, in units of that plane's prediction error there (the
    others' scatter about it, never below the station's std, grown by the leverage of the
    prediction). A bad station inflates every other station's misfit, not its own scale,
    so it stands out where a spread of all misfits would not. A plane, not the surface's
    own order: a quadratic extrapolated to a site left out at the edge is no judge."""
    site = sites(x, y)
    scores = np.zeros(len(x))
    for k in range(len(x)):
        others = site != site[k]
        if others.sum() < 4:
            continue
        design = surface_design(x[others], y[others], 1)
        coefficients = fit_surface(x[others], y[others], difference[others], std[others], 1)
        residual = difference - evaluate_surface(coefficients, x, y)
        scatter = np.sqrt(np.sum(residual[others] ** 2) / (int(others.sum()) - 3))
        at = surface_design(x[k : k + 1], y[k : k + 1], 1)[0]
        leverage = float(at @ np.linalg.pinv(design.T @ design) @ at)
        scale = max(float(scatter), float(std[k])) * np.sqrt(1.0 + leverage)
        scores[k] = abs(residual[k]) / scale
    worst = int(np.argmax(scores))
    return worst, float(scores[worst])


def _best_order(x: np.ndarray, y: np.ndarray, difference: np.ndarray, std: np.ndarray) -> int:
    """The allowed order whose leave-one-out misfits are smallest (weighted); the count's
    order when the stations are too few to leave one out."""
    allowed = surface_order(len(x))
    if len(x) - 1 < COEFFICIENTS[allowed]:
        return allowed
    best, best_score = allowed, np.inf
    site = sites(x, y)
    for order in range(allowed + 1):
        if len(x) - 1 < COEFFICIENTS[order]:
            continue
        misfit = leave_one_out(x, y, difference, std, order, site)
        if not np.isfinite(misfit).all():
            continue
        score = float(np.mean((misfit / np.maximum(std, 0.05)) ** 2))
        if score < best_score - 1e-12:
            best, best_score = order, score
    return best


def pair_requirement(
    x: np.ndarray,
    y: np.ndarray,
    misfit: np.ndarray,
    requirement: float = 3.0,
    distances_km: tuple[float, float] = (0.1, 50.0),
) -> dict:
    """OPERA Cal/Val's relative test on station pairs: for every pair 0.1-50 km apart, the
    double difference (InSAR_i - InSAR_j) - (GNSS_i - GNSS_j) = misfit_i - misfit_j; the
    share of pairs within `requirement` mm/yr (OPERA passes at 68.3 %)."""
    finite = np.flatnonzero(np.isfinite(misfit))
    i, j = np.triu_indices(len(finite), k=1)
    i, j = finite[i], finite[j]
    distance = np.hypot(x[i] - x[j], y[i] - y[j])
    inside = (distance >= distances_km[0]) & (distance <= distances_km[1])
    double = np.abs(misfit[i] - misfit[j])[inside]
    share = float(np.mean(double <= requirement)) if len(double) else None
    return {
        "pairs": int(inside.sum()),
        "requirement_mm_yr": requirement,
        "distance_km": list(distances_km),
        "share_within": share,
        "passes": None if share is None else share >= 0.683,
    }


def evaluate_surface(coefficients: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The fitted surface (mm/yr) at points (km)."""
    order = {1: 0, 3: 1, 6: 2}[len(coefficients)]
    design = surface_design(np.asarray(x, float), np.asarray(y, float), order)
    # Term by term rather than design @ coefficients: a BLAS product may round a row
    # differently by its place in the batch, and a fanned-out job must give each point the
    # bits of the single-process run whatever the chunks.
    surface = np.zeros(len(design))
    for j, coefficient in enumerate(coefficients):
        surface += design[:, j] * coefficient
    return surface


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
