"""GNSS calibration: an L2a dataset tied to a GNSS network becomes a new L2b dataset.

1. InSAR LOS velocity at each station from the points within STATION_RADIUS_M, trimmed: a
   plane through them read at the station where they show a gradient, else their mean, with
   its std (kernels/calibration.tie_velocity).
2. GNSS LOS velocity: the station's ENU velocity projected on those points' mean LOS vector.
3. A long-wavelength surface fitted to InSAR minus GNSS (kernels/calibration.py bounds the
   order by the station count, keeps a lower one when it predicts left-out stations better
   and rejects a station moving on its own), evaluated at every point and removed from its
   velocity and series (surface x years). The source's velocity column is kept, less the
   surface: re-fitting it from the series would replace the provider's estimate with ours
   (the same on EGMS files, noisier where the column is better). Its std grows by the
   surface's own std.
4. The report gives each station's misfit before and after, and the leave-one-station-out
   validation: each station's InSAR minus GNSS LOS velocity against the surface fitted
   without it, their RMSE and OPERA Cal/Val's pair test (share of station pairs 0.1-50 km
   apart whose double difference is within 3 mm/yr).
5. Tracks of one pass calibrated together are harmonised: the median velocity difference
   of each overlapping pair on common 100 m cells gives per-track offsets (least squares,
   station-weighted mean held at zero), removed like the surface; the report gives each
   overlap's difference before and after.
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
from django.db import transaction

from groundmotion.models import Component, Dataset, GNSSNetwork, Level
from groundmotion.quantities import role_name
from groundmotion.storage import copy_in, copy_out, partitions, queries
from processing.kernels import calibration, velocity
from processing.products import ProgressCallback, no_progress, step_points
from processing.products.fit import dataset_years, software_provenance

STATION_RADIUS_M = 500.0
OVERLAP_CELL_M = 100.0
MIN_OVERLAP_CELLS = 10
SURFACES_SHARE = 0.05  # of the progress bar: station ties, surfaces and harmonisation


def station_ties(dataset: Dataset, network: GNSSNetwork) -> list[dict]:
    """Per station: InSAR and GNSS LOS velocities (mm/yr) where points surround it."""
    ties = []
    for station in network.stations.order_by("code"):  # a fixed order: the same bits each run
        around = queries.velocities_around(dataset, station.geom, STATION_RADIUS_M)
        if not len(around):
            continue
        x, y = calibration.local_km(around[:, 5], around[:, 6], station.geom.x, station.geom.y)
        insar, insar_std = calibration.tie_velocity(around[:, 0], around[:, 1], x, y)
        east, north, up = around[:, 2:5].mean(axis=0)
        gnss = calibration.project_on_los(
            station.velocity_east, station.velocity_north, station.velocity_up, east, north, up
        )
        # The GNSS std along the LOS (each component 0.5 mm/yr when the network gives none).
        gnss_std = np.sqrt(
            ((station.velocity_east_std or 0.5) * east) ** 2
            + ((station.velocity_north_std or 0.5) * north) ** 2
            + ((station.velocity_up_std or 0.5) * up) ** 2
        )
        ties.append(
            {
                "code": station.code,
                "lon": station.geom.x,
                "lat": station.geom.y,
                "points": len(around),
                "insar": insar,
                "insar_std": insar_std,
                "gnss": float(gnss),
                "gnss_std": float(gnss_std),
                "std": float(np.hypot(gnss_std, insar_std)),
            }
        )
    return ties


def calibration_surface(dataset: Dataset, network: GNSSNetwork) -> tuple[np.ndarray, dict]:
    """The fitted surface coefficients and the report (misfits before and after, mm/yr)."""
    ties = station_ties(dataset, network)
    if not ties:
        raise ValueError(f"no station of {network.slug} lies within the points of {dataset.slug}")
    centre = dataset.extent.centroid
    x, y = calibration.local_km(
        np.array([t["lon"] for t in ties]), np.array([t["lat"] for t in ties]), centre.x, centre.y
    )
    difference = np.array([t["insar"] - t["gnss"] for t in ties])
    std = np.array([t["std"] for t in ties])
    chosen = calibration.choose_surface(x, y, difference, std)
    kept, order = chosen["kept"], chosen["order"]
    coefficients = calibration.fit_surface(x[kept], y[kept], difference[kept], std[kept], order)
    after = difference - calibration.evaluate_surface(coefficients, x, y)
    for k, tie in enumerate(ties):
        tie["misfit_before"], tie["misfit_after"] = float(difference[k]), float(after[k])
        tie["left_out_misfit"] = float(chosen["loso"][k])
        tie["rejected"] = not bool(kept[k])
    # A-posteriori variance factor of the kept stations, never below 1 (the stds' own).
    spare = int(kept.sum()) - len(coefficients)
    chi2 = float(np.sum((after[kept] / std[kept]) ** 2))
    scale = max(1.0, chi2 / spare) if spare > 0 else 1.0
    covariance = calibration.surface_covariance(x[kept], y[kept], std[kept], order, scale)
    loso = chosen["loso"][kept]
    report = {
        "network": network.slug,
        "centre": [centre.x, centre.y],
        "surface_order": order,
        "surface_order_allowed": calibration.surface_order(int(kept.sum())),
        "coefficients": coefficients.tolist(),
        "covariance": covariance.tolist(),
        "stations": ties,
        "rejected": [t["code"] for t in ties if t["rejected"]],
        "rms_before": float(np.sqrt(np.mean(difference**2))),
        "rms_after": float(np.sqrt(np.mean(after[kept] ** 2))),
        "leave_one_out": {
            "rmse": float(np.sqrt(np.nanmean(loso**2))) if np.isfinite(loso).any() else None,
            "stations": int(np.isfinite(loso).sum()),
            **calibration.pair_requirement(x, y, np.where(kept, chosen["loso"], np.nan)),
        },
    }
    return coefficients, report


def create_output(source: Dataset, slug: str, level: str, provenance: dict, **fields) -> Dataset:
    """A new draft dataset that inherits the source's description and area, named from its
    role ("Dax L2b ascending track 132, 2020-2024"); fails if the slug exists."""
    if Dataset.objects.filter(slug=slug).exists():
        raise ValueError(f"a dataset {slug!r} already exists")
    described = {
        "level": level,
        "component": fields.pop("component", Component.LOS),
        "pass_direction": fields.pop("pass_direction", source.pass_direction),
        "relative_orbit": fields.pop("relative_orbit", source.relative_orbit),
    }
    dates = fields.pop("acquisition_dates", source.acquisition_dates)
    return Dataset.objects.create(
        slug=slug,
        name=role_name(area=source.area, dates=dates, **described),
        area=source.area,
        **described,
        sensor=source.sensor,
        wavelength_m=source.wavelength_m,
        acquisition_dates=dates,
        reference_date=source.reference_date,
        licence=source.licence,
        attribution=source.attribution,
        provenance=provenance,
        **fields,
    )


def cell_velocities(
    dataset: Dataset,
    coefficients: np.ndarray,
    centre: list[float],
    cell_size: float = OVERLAP_CELL_M,
) -> tuple[np.ndarray, np.ndarray]:
    """Per EPSG:3035 cell holding points: a key and the calibrated mean velocity (mm/yr).

    The surface is evaluated at the mean position of the cell's points (exact for a plane).
    """
    rows = queries.cell_mean_velocities(dataset, cell_size)
    keys = (rows[:, 1].astype(np.int64) << 32) + rows[:, 0].astype(np.int64)
    x, y = calibration.local_km(rows[:, 3], rows[:, 4], *centre)
    return keys, rows[:, 2] - calibration.evaluate_surface(coefficients, x, y)


def harmonisation(sources: list[Dataset], surfaces: list[tuple[np.ndarray, dict]]) -> dict:
    """Offsets (mm/yr) that make overlapping tracks agree on common ground, with the report.

    Common ground: 100 m EPSG:3035 cells holding points of both tracks; the difference of
    two tracks is the median over those cells of their calibrated velocity difference.
    """
    cells = [
        cell_velocities(source, coefficients, report["centre"])
        for source, (coefficients, report) in zip(sources, surfaces, strict=True)
    ]
    pairs, differences, weights = [], [], []
    for i, j in itertools.combinations(range(len(sources)), 2):
        _, first, second = np.intersect1d(cells[i][0], cells[j][0], return_indices=True)
        if len(first) >= MIN_OVERLAP_CELLS:
            pairs.append((i, j))
            differences.append(float(np.median(cells[i][1][first] - cells[j][1][second])))
            weights.append(float(len(first)))
    anchors = np.array([len(report["stations"]) for _, report in surfaces], dtype=float)
    offsets = calibration.harmonise_offsets(
        len(sources), np.array(pairs), np.array(differences), np.array(weights), anchors
    )
    overlaps = [
        {
            "tracks": [sources[i].slug, sources[j].slug],
            "cells": int(w),
            "difference_before": d,
            "difference_after": d - float(offsets[i] - offsets[j]),
        }
        for (i, j), d, w in zip(pairs, differences, weights, strict=True)
    ]
    named = {source.slug: float(o) for source, o in zip(sources, offsets, strict=True)}
    return {"offsets": named, "overlaps": overlaps, "cell_m": OVERLAP_CELL_M}


CALIBRATED_COLUMNS = {**copy_out.GEOMETRY_COLUMNS, **copy_out.ATTRIBUTE_COLUMNS}


def calibrated_chunk(
    source: Dataset, chunk: dict[str, np.ndarray], surface: dict, years: np.ndarray
) -> dict[str, np.ndarray]:
    """A chunk of the source (id, CALIBRATED_COLUMNS, series) less (surface + offset) x
    years, re-fitted; the series in place. Each point's result is its own, whatever else is
    in the chunk. surface: coefficients, covariance, centre and offset."""
    x, y = calibration.local_km(chunk["lon"], chunk["lat"], *surface["centre"])
    correction = calibration.evaluate_surface(np.asarray(surface["coefficients"]), x, y)
    correction = correction + surface["offset"]
    velocity.remove_velocity(chunk["series"], correction, years)
    attributes = {name: chunk[name] for name in copy_in.POINT_FLOAT_COLUMNS}
    attributes["velocity"] = attributes["velocity"] - correction
    fitted = velocity.fit_series(chunk["series"], years, source.wavelength_m * 1e3)
    for name, values in fitted.items():  # the fit only where the source has no value
        attributes[name] = np.where(np.isfinite(attributes[name]), attributes[name], values)
    std = calibration.surface_std(np.asarray(surface["covariance"]), x, y)
    attributes["velocity_std"] = np.hypot(attributes["velocity_std"], std)
    return attributes


def write_calibrated_chunk(
    source: Dataset,
    output: Dataset,
    staged: partitions.StagedPoints,
    chunk: dict[str, np.ndarray],
    attributes: dict[str, np.ndarray],
) -> None:
    """COPY a calibrated chunk (source ids, lon, lat, series) into the output's staging."""
    ids = copy_in.reserve_point_ids(len(chunk["id"]), output.pk)
    pids = copy_out.read_pids(source, (int(chunk["id"][0]), int(chunk["id"][-1])))
    copy_in.copy_points(output, ids, pids, chunk["lon"], chunk["lat"], attributes, staged)
    copy_in.copy_series(ids, chunk["series"])
    if source.extra_columns:
        copy_in.copy_extras(ids, copy_out.read_extras(source, chunk["id"]))


def track_surface(slug: str, report: dict, harmonised: dict | None) -> dict:
    """What calibrated_chunk needs of a track's calibration: its surface (from the report,
    JSON, so fanned-out chunks share it) and its harmonisation offset."""
    offset = harmonised["offsets"][slug] if harmonised else 0.0
    return {
        "coefficients": report["coefficients"],
        "covariance": report["covariance"],
        "centre": report["centre"],
        "offset": offset,
    }


def _write_calibrated(
    source: Dataset,
    output: Dataset,
    staged: partitions.StagedPoints,
    surface: dict,
    progress: ProgressCallback,
) -> None:
    years = dataset_years(source)
    done = 0
    for fraction, chunk in copy_out.iterate_chunks(
        source, CALIBRATED_COLUMNS, step_points(source.point_count)
    ):
        attributes = calibrated_chunk(source, chunk, surface, years)
        write_calibrated_chunk(source, output, staged, chunk, attributes)
        done += len(chunk["id"])
        progress(fraction, f"calibrated {done:,} of {source.point_count:,} points of {source.slug}")
    copy_in.finish_load(output, staged)


def check_calibration(sources: list[Dataset], output_slugs: list[str]) -> None:
    """What a calibration's inputs must be, checked before any work."""
    if len(sources) != len(output_slugs) or not sources:
        raise ValueError("give one output slug per input dataset")
    if len({source.pass_direction for source in sources}) > 1:
        raise ValueError("tracks calibrated together must share one pass direction")
    for source in sources:
        dataset_years(source)


def calibration_surfaces(
    sources: list[Dataset], network: GNSSNetwork
) -> tuple[list[tuple[np.ndarray, dict]], dict | None]:
    """Each track's surface and report, and the tracks' harmonisation (None for one)."""
    surfaces = [calibration_surface(source, network) for source in sources]
    harmonised = harmonisation(sources, surfaces) if len(sources) > 1 else None
    return surfaces, harmonised


def create_calibrated(
    source: Dataset,
    sources: list[Dataset],
    network: GNSSNetwork,
    slug: str,
    report: dict,
    harmonised: dict | None,
) -> Dataset:
    """The L2b draft of one track, its calibration report in the provenance."""
    parameters = {
        "source": source.slug,
        "network": network.slug,
        "calibrated_with": [s.slug for s in sources],
    }
    provenance = software_provenance("calibrate", parameters) | {
        "calibration": report,
        "harmonisation": harmonised,
    }
    return create_output(
        source, slug, Level.L2B, provenance, extra_columns=list(source.extra_columns)
    )


def calibrate_datasets(
    sources: list[Dataset],
    network: GNSSNetwork,
    output_slugs: list[str],
    progress: ProgressCallback = no_progress,
) -> tuple[list[Dataset], dict]:
    """Calibrate tracks of one pass together: one L2b draft each, in one transaction.

    Each track gets its own GNSS surface; tracks that overlap are then harmonised (see
    `harmonisation`). Returns the outputs and the report (per track, and the harmonisation).
    """
    check_calibration(sources, output_slugs)
    # Staged points tables are dropped after a rollback, so they wrap the transaction.
    with contextlib.ExitStack() as stack, transaction.atomic():
        staged = [stack.enter_context(partitions.StagedPoints()) for _ in sources]
        surfaces, harmonised = calibration_surfaces(sources, network)
        progress(
            SURFACES_SHARE,
            f"GNSS surfaces fitted (RMS misfit, mm/yr: {misfits(sources, surfaces)})",
        )
        outputs, share = [], (1.0 - SURFACES_SHARE) / len(sources)
        for number, (source, slug, (_, report)) in enumerate(
            zip(sources, output_slugs, surfaces, strict=True)
        ):
            output = create_calibrated(source, sources, network, slug, report, harmonised)
            _write_calibrated(
                source,
                output,
                staged[number],
                track_surface(source.slug, report, harmonised),
                _share_of(progress, number, share),
            )
            outputs.append(output)
    return outputs, {"tracks": [report for _, report in surfaces], "harmonisation": harmonised}


def misfits(sources: list[Dataset], surfaces: list[tuple[np.ndarray, dict]]) -> str:
    return ", ".join(
        f"{s.slug} {r['rms_before']:.2f} -> {r['rms_after']:.2f}"
        for s, (_, r) in zip(sources, surfaces, strict=True)
    )


def _share_of(progress: ProgressCallback, number: int, share: float) -> ProgressCallback:
    """Progress of the `number`-th of several equal parts after the surfaces' share, as a
    fraction of the whole."""
    return lambda fraction, message: progress(SURFACES_SHARE + (number + fraction) * share, message)


def calibrate_dataset(
    source: Dataset,
    network: GNSSNetwork,
    output_slug: str,
    progress: ProgressCallback = no_progress,
) -> tuple[Dataset, dict]:
    """Write the L2b dataset `output_slug` (draft) in one transaction; returns it and the report."""
    outputs, report = calibrate_datasets([source], network, [output_slug], progress)
    return outputs[0], report["tracks"][0]
