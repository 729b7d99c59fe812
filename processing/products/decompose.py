"""L3 decomposition: ascending + descending L2b -> up-down and east-west datasets on a grid.

`decompose_arrays` works on plain arrays (used by the tests on the real EGMS Ustica files);
`decompose_datasets` reads two datasets from PostGIS band by band (runs of whole cell rows,
found through the GiST index), calls it per band and writes two L3 datasets. Memory is
bounded by one band (about BAND_POINTS points), so 10^7 points per geometry fit. Series on
the output are shifted so the cubic + seasonal model is zero at the first date, as in the
EGMS L3 files.
"""

from __future__ import annotations

import contextlib
import datetime
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from pyproj import Transformer

from groundmotion.models import Component, Dataset, GNSSNetwork, Level, PassDirection
from groundmotion.storage import copy_in, copy_out, partitions, queries
from processing.kernels import calibration, decomposition, velocity
from processing.products import MIN_STEP_POINTS, PROGRESS_STEPS, ProgressCallback, no_progress
from processing.products.calibrate import create_output
from processing.products.fit import software_provenance

EPOCH = datetime.date(1970, 1, 1)
STEP_DAYS = 6


@dataclass
class Geometry:
    """One geometry's points: EPSG:3035 metres, LOS unit vectors, series (mm), days."""

    easting: np.ndarray
    northing: np.ndarray
    los_east: np.ndarray
    los_north: np.ndarray
    los_up: np.ndarray
    series: np.ndarray
    days: np.ndarray
    north_velocity: np.ndarray | None = None  # GNSS north per point, mm/yr
    # Velocity error shared by the geometry's points (mm/yr std per point): the GNSS
    # calibration surface's. The series' scatter cannot show it, so it is propagated.
    common_velocity_std: np.ndarray | None = None


def common_days(geometries: list[Geometry], step_days: int = STEP_DAYS) -> np.ndarray:
    """The regular grid over the dates every geometry covers (days since 1970)."""
    first = max(int(g.days[0]) for g in geometries)
    last = min(int(g.days[-1]) for g in geometries)
    if last <= first:
        raise ValueError("the inputs share no time span")
    return decomposition.regular_days(first, last, step_days)


def _prepared_series(geometry: Geometry, target_days: np.ndarray) -> np.ndarray:
    series = geometry.series
    if geometry.north_velocity is not None:
        # Remove the GNSS north motion seen along the LOS (north is not solved for).
        years = (geometry.days - geometry.days[0]) / velocity.DAYS_PER_YEAR
        rate = geometry.north_velocity * geometry.los_north
        series = series - (rate[:, None] * years[None, :]).astype(np.float32)
    return decomposition.resample_series(series, geometry.days, target_days)


def shift_to_model_origin(series: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Subtract each series' cubic + seasonal model value at the first date (mm)."""
    design = velocity.basis(years)
    finite = np.nan_to_num(series.astype(np.float64))
    coefficients = np.linalg.lstsq(design, finite.T, rcond=None)[0]
    origin = design[0] @ coefficients
    return (series - origin[:, None]).astype(np.float32)


def decompose_arrays(
    geometries: list[Geometry], cell_size: float = 100.0, days: np.ndarray | None = None
) -> dict:
    """East and up per cell seen by every geometry, with re-fitted parameters.

    days: the common grid (days since 1970), by default from the geometries' dates.
    Returns days, column, row, easting, northing (cell centres, m), and for "east" and
    "up": series (cells x dates, mm), std (mm) and the fit (kernels.velocity).
    """
    days = common_days(geometries) if days is None else days
    prepared = [_prepared_series(g, days) for g in geometries]
    label = np.concatenate([np.full(len(g.easting), i) for i, g in enumerate(geometries)])
    easting = np.concatenate([g.easting for g in geometries])
    northing = np.concatenate([g.northing for g in geometries])
    column, row = decomposition.cell_indices(easting, northing, cell_size)
    groups = decomposition.group_by_cell(column, row, label, len(geometries))
    order = groups["order"]
    solved = decomposition.solve_cells(
        groups["starts"],
        np.concatenate([g.los_east for g in geometries])[order],
        np.concatenate([g.los_up for g in geometries])[order],
        np.concatenate(prepared)[order],
    )
    common = _common_velocity_std(geometries, groups)
    years = velocity.years_since_first(days)
    centre_e, centre_n = decomposition.cell_centres(groups["column"], groups["row"], cell_size)
    out: dict = {
        "days": days,
        "column": groups["column"],
        "row": groups["row"],
        "easting": centre_e,
        "northing": centre_n,
    }
    for name in ("east", "up"):
        series = shift_to_model_origin(solved[name], years)
        fit = velocity.fit_series(series, years)
        if common is not None:
            fit["velocity_std"] = np.hypot(fit["velocity_std"], common[name]).astype(np.float32)
        out[name] = {"series": series, "std": solved[f"{name}_std"], "fit": fit}
    return out


def _common_velocity_std(geometries: list[Geometry], groups: dict) -> dict | None:
    """Per cell, the std (mm/yr) of east and up due to each geometry's common error: the
    same solve applied to that error, geometries independent of each other."""
    if all(g.common_velocity_std is None for g in geometries):
        return None
    sizes = [len(g.easting) for g in geometries]
    errors = np.zeros((sum(sizes), len(geometries)), dtype=np.float32)
    start = 0
    for k, (g, size) in enumerate(zip(geometries, sizes, strict=True)):
        if g.common_velocity_std is not None:
            errors[start : start + size, k] = g.common_velocity_std
        start += size
    order = groups["order"]
    solved = decomposition.solve_cells(
        groups["starts"],
        np.concatenate([g.los_east for g in geometries])[order],
        np.concatenate([g.los_up for g in geometries])[order],
        errors[order],
    )
    return {
        name: np.sqrt(np.sum(solved[name].astype(np.float64) ** 2, axis=1))
        for name in ("east", "up")
    }


GEOMETRY_COLUMNS = {
    **copy_out.PROJECTED_COLUMNS,
    **copy_out.GEOMETRY_COLUMNS,
    "los_east": "p.los_east",
    "los_north": "p.los_north",
    "los_up": "p.los_up",
}
BAND_POINTS = 300_000
BANDS_SHARE = 0.95  # of the progress bar; the rest is the outputs' indexes and tile cells
to_laea = Transformer.from_crs(4326, 3035, always_xy=True)
to_wgs84 = Transformer.from_crs(3035, 4326, always_xy=True)


def dataset_days(dataset: Dataset) -> np.ndarray:
    return np.array([(d - EPOCH).days for d in dataset.acquisition_dates])


def common_grid(datasets: list[Dataset], step_days: int = STEP_DAYS) -> np.ndarray:
    """The regular grid over the dates every dataset covers (days since 1970)."""
    first = max(int(dataset_days(d)[0]) for d in datasets)
    last = min(int(dataset_days(d)[-1]) for d in datasets)
    if last <= first:
        raise ValueError("the inputs share no time span")
    return decomposition.regular_days(first, last, step_days)


def plan_bands(
    datasets: list[Dataset], cell_size: float, budget: int | None = None
) -> tuple[list[tuple[int, int]], list[int]]:
    """Runs of whole cell rows (first, last) holding at most about `budget` points, and the
    points of each. The default budget: BAND_POINTS, or about a PROGRESS_STEPS-th of all
    points (at least MIN_STEP_POINTS), so that progress moves in steps.

    Memory stays bounded by the band, whatever the datasets' size: a cell lies in one
    row, so each band is decomposed on its own.
    """
    rows = queries.points_per_cell_row(datasets, cell_size)
    if budget is None:
        all_points = sum(count for _, count in rows)
        budget = min(BAND_POINTS, max(MIN_STEP_POINTS, -(-all_points // PROGRESS_STEPS)))
    bands: list[tuple[int, int]] = []
    points: list[int] = []
    for row, count in rows:
        if bands and points[-1] + count <= budget:
            bands[-1] = (bands[-1][0], row)
            points[-1] += count
        else:
            bands.append((row, row))
            points.append(count)
    return bands, points


def band_envelope(datasets: list[Dataset], northing_m: tuple[float, float]) -> tuple:
    """WGS84 bounds of the band [northing_m) across the datasets' extents (densified)."""
    eastings = []
    for dataset in datasets:
        west, south, east, north = dataset.extent.extent
        x, _ = to_laea.transform([west, east, west, east], [south, south, north, north])
        eastings += list(x)
    bounds = to_wgs84.transform_bounds(
        min(eastings) - 1000,
        northing_m[0] - 1000,
        max(eastings) + 1000,
        northing_m[1] + 1000,
        densify_pts=21,
    )
    return tuple(float(value) for value in bounds)


def north_velocity(data: dict, dataset: Dataset, network: GNSSNetwork | None):
    """GNSS north velocity (mm/yr) at each point, or None without a network: the network's
    long-wavelength north, a surface fitted to the stations' north velocities as the
    calibration fits its own (kernels/calibration.choose_surface: order bounded by the
    count, stations moving on their own rejected; a mean below 5 stations). Interpolating
    the stations one by one (IDW) spread a station's local motion, a subsidence bowl's
    inward pull, over its whole neighbourhood: L3 up 0.41 instead of 0.37 mm/yr on
    bench/validation.py's "eight"."""
    if network is None:
        return None
    stations = list(network.stations.order_by("code"))
    if not stations:
        raise ValueError(f"GNSS network {network.slug} has no stations")
    centre = dataset.extent.centroid
    sx, sy = calibration.local_km(
        np.array([s.geom.x for s in stations]),
        np.array([s.geom.y for s in stations]),
        centre.x,
        centre.y,
    )
    values = np.array([s.velocity_north for s in stations], dtype=float)
    std = np.array([s.velocity_north_std or 0.5 for s in stations], dtype=float)
    chosen = calibration.choose_surface(sx, sy, values, std)
    kept = chosen["kept"]
    # Too few stations to check a plane against left-out ones: their weighted mean (a plane
    # through 3 noisy stations tilts the whole region; bench/validation.py "three").
    order = chosen["order"] if len(stations) >= calibration.REJECT_FROM_STATIONS else 0
    coefficients = calibration.fit_surface(sx[kept], sy[kept], values[kept], std[kept], order)
    x, y = calibration.local_km(data["lon"], data["lat"], centre.x, centre.y)
    return calibration.evaluate_surface(coefficients, x, y)


def read_geometry(
    dataset: Dataset, network: GNSSNetwork | None, envelope: tuple, northing_m: tuple[float, float]
) -> Geometry | None:
    """A dataset's points, LOS vectors and series in one band, or None if it has none."""
    data = copy_out.read_band(dataset, GEOMETRY_COLUMNS, envelope, northing_m)
    if not len(data["id"]):
        return None
    if np.isnan(data["los_east"]).any() or np.isnan(data["los_up"]).any():
        raise ValueError(f"{dataset.slug} has points without a LOS vector")
    return Geometry(
        data["easting"],
        data["northing"],
        data["los_east"],
        data["los_north"],
        data["los_up"],
        data["series"],
        dataset_days(dataset),
        north_velocity(data, dataset, network),
        calibration_std(data, dataset),
    )


def calibration_std(data: dict, dataset: Dataset) -> np.ndarray | None:
    """The std (mm/yr) of an L2b's GNSS calibration surface at each point, from the
    covariance its calibration stored; None for datasets calibrated elsewhere."""
    report = (dataset.provenance or {}).get("calibration") or {}
    if "covariance" not in report:
        return None
    x, y = calibration.local_km(data["lon"], data["lat"], *report["centre"])
    return calibration.surface_std(np.array(report["covariance"]), x, y)


def _create_outputs(
    source: Dataset, slugs: dict[str, str], days: np.ndarray, provenance: dict, cell_size: int
) -> dict[str, Dataset]:
    dates = [EPOCH + datetime.timedelta(days=int(d)) for d in days]
    components = {"up": Component.UP_DOWN, "east": Component.EAST_WEST}
    return {
        name: create_output(
            source,
            slug,
            Level.L3,
            provenance,
            component=components[name],
            grid_size_m=cell_size,
            pass_direction=PassDirection.NONE,
            relative_orbit=None,
            acquisition_dates=dates,
        )
        for name, slug in slugs.items()
    }


def write_cells(
    outputs: dict[str, Dataset], tables: dict[str, partitions.StagedPoints], result: dict
) -> None:
    """COPY one band's cells into both outputs' staged tables (EGMS pids, WGS84 centres)."""
    lon, lat = to_wgs84.transform(result["easting"], result["northing"])
    pids = decomposition.cell_pids(result["column"], result["row"])
    for name, output in outputs.items():
        part = result[name]
        ids = copy_in.reserve_point_ids(len(pids), output.pk)
        fit = dict(part["fit"])
        copy_in.copy_points(output, ids, pids, np.asarray(lon), np.asarray(lat), fit, tables[name])
        copy_in.copy_series(ids, part["series"])


def check_inputs(inputs: list[Dataset]) -> np.ndarray:
    """The common date grid of the inputs, or a ValueError saying why there is none."""
    if any(dataset.extent is None for dataset in inputs):
        raise ValueError("both inputs need points")
    return common_grid(inputs)


def solve_band(
    inputs: list[Dataset],
    network: GNSSNetwork | None,
    days: np.ndarray,
    cell_size: int,
    rows: tuple[int, int],
) -> dict | None:
    """decompose_arrays on the cells of rows (first, last); None where a geometry has none."""
    northing = (rows[0] * cell_size, (rows[1] + 1) * cell_size)
    envelope = band_envelope(inputs, northing)
    geometries = [read_geometry(d, network, envelope, northing) for d in inputs]
    if any(g is None for g in geometries):
        return None
    return decompose_arrays(geometries, float(cell_size), days)


def create_outputs(
    ascending: Dataset,
    descending: Dataset,
    slugs: dict[str, str],
    days: np.ndarray,
    cell_size: int,
    network: GNSSNetwork | None,
) -> dict[str, Dataset]:
    parameters = {
        "ascending": ascending.slug,
        "descending": descending.slug,
        "grid_m": cell_size,
        "network": network.slug if network else None,
    }
    provenance = software_provenance("decompose", parameters)
    return _create_outputs(ascending, slugs, days, provenance, cell_size)


def finish_outputs(
    outputs: dict[str, Dataset], tables: dict[str, partitions.StagedPoints], cells: int
) -> None:
    if not cells:
        raise ValueError("no grid cell holds points of both geometries")
    for name, output in outputs.items():
        copy_in.finish_load(output, tables[name])


def decompose_datasets(
    ascending: Dataset,
    descending: Dataset,
    *,
    up_slug: str,
    east_slug: str,
    cell_size: int = 100,
    network: GNSSNetwork | None = None,
    progress: ProgressCallback = no_progress,
) -> tuple[Dataset, Dataset]:
    """Write the up-down and east-west L3 datasets (drafts) in one transaction.

    Streams bands of cell rows (plan_bands): memory is bounded by one band.
    """
    inputs = [ascending, descending]
    days = check_inputs(inputs)
    slugs = {"up": up_slug, "east": east_slug}
    # Staged points tables are dropped after a rollback, so they wrap the transaction.
    with contextlib.ExitStack() as stack, transaction.atomic():
        tables = {name: stack.enter_context(partitions.StagedPoints()) for name in slugs}
        outputs = create_outputs(ascending, descending, slugs, days, cell_size, network)
        bands, _ = plan_bands(inputs, cell_size)
        cells = 0
        for number, rows in enumerate(bands):
            result = solve_band(inputs, network, days, cell_size, rows)
            if result is not None:
                write_cells(outputs, tables, result)
                cells += len(result["column"])
            message = f"solved band {number + 1} of {len(bands)} ({cells:,} cells so far)"
            progress(BANDS_SHARE * (number + 1) / len(bands), message)
        progress(BANDS_SHARE, f"{cells:,} cells solved: indexing both outputs")
        finish_outputs(outputs, tables, cells)
    return outputs["up"], outputs["east"]
