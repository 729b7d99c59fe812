"""L3 decomposition: ascending + descending L2b -> up-down and east-west datasets on a grid.

`decompose_arrays` works on plain arrays (used by the tests on the real EGMS Ustica files);
`decompose_datasets` reads two datasets from PostGIS, calls it and writes two L3 datasets.
Series on the output are shifted so the cubic + seasonal model is zero at the first date, as
in the EGMS L3 files. Memory: the resampled series of both inputs are held (4 bytes per point
and date); inputs are read in chunks.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from pyproj import Transformer

from groundmotion import bulk
from groundmotion.models import Component, Dataset, GNSSNetwork, Level, PassDirection
from processing.kernels import calibration, decomposition, velocity
from processing.products import ProgressCallback, no_progress, series_io
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


def decompose_arrays(geometries: list[Geometry], cell_size: float = 100.0) -> dict:
    """East and up per cell seen by every geometry, with re-fitted parameters.

    Returns days (common grid), column, row, easting, northing (cell centres, m), and for
    "east" and "up": series (cells x dates, mm), std (mm) and the fit (kernels.velocity).
    """
    days = common_days(geometries)
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
    years = velocity.years_since_first(days)
    centre_e, centre_n = decomposition.cell_centres(groups["column"], groups["row"], cell_size)
    out: dict = {"days": days, "column": groups["column"], "row": groups["row"],
                 "easting": centre_e, "northing": centre_n}  # fmt: skip
    for name in ("east", "up"):
        series = shift_to_model_origin(solved[name], years)
        out[name] = {"series": series, "std": solved[f"{name}_std"],
                     "fit": velocity.fit_series(series, years)}  # fmt: skip
    return out


GEOMETRY_COLUMNS = {
    **series_io.PROJECTED_COLUMNS,
    **series_io.GEOMETRY_COLUMNS,
    "los_east": "p.los_east",
    "los_north": "p.los_north",
    "los_up": "p.los_up",
}


def read_geometry(dataset: Dataset, network: GNSSNetwork | None) -> Geometry:
    """A dataset's points, LOS vectors and series, read in chunks."""
    chunks = [chunk for _, chunk in series_io.iterate_chunks(dataset, GEOMETRY_COLUMNS)]
    if not chunks:
        raise ValueError(f"{dataset.slug} has no points")
    data = {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}
    if np.isnan(data["los_east"]).any() or np.isnan(data["los_up"]).any():
        raise ValueError(f"{dataset.slug} has points without a LOS vector")
    north = None
    if network is not None:
        stations = list(network.stations.all())
        if not stations:
            raise ValueError(f"GNSS network {network.slug} has no stations")
        lon0, lat0 = float(np.mean(data["lon"])), float(np.mean(data["lat"]))
        sx, sy = calibration.local_km(
            np.array([s.geom.x for s in stations]), np.array([s.geom.y for s in stations]),
            lon0, lat0,
        )  # fmt: skip
        x, y = calibration.local_km(data["lon"], data["lat"], lon0, lat0)
        values = np.array([s.velocity_north for s in stations])
        north = calibration.interpolate_stations(sx, sy, values, x, y)
    days = np.array([(d - EPOCH).days for d in dataset.acquisition_dates])
    return Geometry(data["easting"], data["northing"], data["los_east"], data["los_north"],
                    data["los_up"], data["series"], days, north)  # fmt: skip


def _write_component(source: Dataset, slug: str, component: str, result: dict, name: str,
                     provenance: dict, cell_size: int) -> Dataset:  # fmt: skip
    dates = [EPOCH + datetime.timedelta(days=int(d)) for d in result["days"]]
    output = create_output(
        source, slug, Level.L3, provenance, component=component, grid_size_m=cell_size,
        pass_direction=PassDirection.NONE, relative_orbit=None, acquisition_dates=dates,
        name=f"{source.name} L3 {component}",
    )  # fmt: skip
    to_wgs84 = Transformer.from_crs(3035, 4326, always_xy=True)
    lon, lat = to_wgs84.transform(result["easting"], result["northing"])
    pids = decomposition.cell_pids(result["column"], result["row"])
    part = result[name]
    ids = bulk.reserve_point_ids(len(pids))
    bulk.copy_points(output, ids, pids, np.asarray(lon), np.asarray(lat), dict(part["fit"]))
    bulk.copy_series(ids, part["series"])
    bulk.refresh_summary(output)
    return output


def decompose_datasets(
    ascending: Dataset, descending: Dataset, *, up_slug: str, east_slug: str,
    cell_size: int = 100, network: GNSSNetwork | None = None,
    progress: ProgressCallback = no_progress,
) -> tuple[Dataset, Dataset]:  # fmt: skip
    """Write the up-down and east-west L3 datasets (drafts) in one transaction."""
    progress(0.0, "reading inputs")
    geometries = [read_geometry(ascending, network), read_geometry(descending, network)]
    progress(0.4, "solving cells")
    result = decompose_arrays(geometries, float(cell_size))
    if not len(result["column"]):
        raise ValueError("no grid cell holds points of both geometries")
    parameters = {"ascending": ascending.slug, "descending": descending.slug,
                  "grid_m": cell_size, "network": network.slug if network else None}  # fmt: skip
    provenance = software_provenance("decompose", parameters)
    progress(0.8, f"writing {len(result['column'])} cells")
    with transaction.atomic():
        up = _write_component(ascending, up_slug, Component.UP_DOWN, result, "up",
                              provenance, cell_size)  # fmt: skip
        east = _write_component(ascending, east_slug, Component.EAST_WEST, result, "east",
                                provenance, cell_size)  # fmt: skip
    return up, east
