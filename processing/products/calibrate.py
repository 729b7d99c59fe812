"""GNSS calibration: an L2a dataset tied to a GNSS network becomes a new L2b dataset.

1. InSAR LOS velocity at each station: median of the points within STATION_RADIUS_M.
2. GNSS LOS velocity: the station's ENU velocity projected on those points' mean LOS vector.
3. A long-wavelength surface fitted to InSAR minus GNSS (kernels/calibration.py picks the
   order from the station count), evaluated at every point and removed from its velocity and
   series (surface x years); the parameters are re-fitted.
4. The report gives each station's misfit before and after.
"""

from __future__ import annotations

import numpy as np
from django.db import connection, transaction

from groundmotion import bulk
from groundmotion.models import Dataset, GNSSNetwork, Level
from processing.kernels import calibration, velocity
from processing.products import ProgressCallback, no_progress, series_io
from processing.products.fit import dataset_years, software_provenance

STATION_RADIUS_M = 500.0
ATTRIBUTE_COLUMNS = {name: f"p.{name}" for name in bulk.POINT_FLOAT_COLUMNS}


def station_ties(dataset: Dataset, network: GNSSNetwork) -> list[dict]:
    """Per station: InSAR and GNSS LOS velocities (mm/yr) where points surround it."""
    ties = []
    for station in network.stations.all():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY velocity),"
                " avg(los_east), avg(los_north), avg(los_up)"
                f" FROM {bulk.POINT_TABLE} WHERE dataset_id = %s AND velocity IS NOT NULL"
                " AND ST_DWithin(geom::geography, ST_GeomFromEWKT(%s)::geography, %s)",
                [dataset.pk, station.geom.ewkt, STATION_RADIUS_M],
            )
            count, insar, east, north, up = cursor.fetchone()
        if not count:
            continue
        gnss = calibration.project_on_los(
            station.velocity_east, station.velocity_north, station.velocity_up, east, north, up
        )
        std = np.hypot(station.velocity_up_std or 0.5, station.velocity_east_std or 0.5)
        ties.append({
            "code": station.code, "lon": station.geom.x, "lat": station.geom.y,
            "points": count, "insar": insar, "gnss": float(gnss), "std": float(std),
        })  # fmt: skip
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
    coefficients = calibration.fit_surface(x, y, difference, np.array([t["std"] for t in ties]))
    after = difference - calibration.evaluate_surface(coefficients, x, y)
    for tie, before_value, after_value in zip(ties, difference, after, strict=True):
        tie["misfit_before"], tie["misfit_after"] = float(before_value), float(after_value)
    report = {
        "network": network.slug, "centre": [centre.x, centre.y],
        "surface_order": calibration.surface_order(len(ties)),
        "coefficients": coefficients.tolist(), "stations": ties,
        "rms_before": float(np.sqrt(np.mean(difference**2))),
        "rms_after": float(np.sqrt(np.mean(after**2))),
    }  # fmt: skip
    return coefficients, report


def create_output(source: Dataset, slug: str, level: str, provenance: dict, **fields) -> Dataset:
    """A new draft dataset that inherits the source's description; fails if the slug exists."""
    if Dataset.objects.filter(slug=slug).exists():
        raise ValueError(f"a dataset {slug!r} already exists")
    return Dataset.objects.create(
        slug=slug, name=fields.pop("name", f"{source.name} ({level})"), level=level,
        pass_direction=fields.pop("pass_direction", source.pass_direction),
        relative_orbit=fields.pop("relative_orbit", source.relative_orbit),
        sensor=source.sensor, wavelength_m=source.wavelength_m,
        acquisition_dates=fields.pop("acquisition_dates", source.acquisition_dates),
        reference_date=source.reference_date, licence=source.licence,
        attribution=source.attribution, provenance=provenance, **fields,
    )  # fmt: skip


def calibrate_dataset(
    source: Dataset, network: GNSSNetwork, output_slug: str,
    progress: ProgressCallback = no_progress,
) -> tuple[Dataset, dict]:  # fmt: skip
    """Write the L2b dataset `output_slug` (draft) in one transaction; returns it and the report."""
    years = dataset_years(source)
    with transaction.atomic():
        coefficients, report = calibration_surface(source, network)
        parameters = {"source": source.slug, "network": network.slug}
        provenance = software_provenance("calibrate", parameters) | {"calibration": report}
        output = create_output(source, output_slug, Level.L2B, provenance)
        centre = report["centre"]
        columns = {**series_io.GEOMETRY_COLUMNS, **ATTRIBUTE_COLUMNS}
        for fraction, chunk in series_io.iterate_chunks(source, columns):
            x, y = calibration.local_km(chunk["lon"], chunk["lat"], *centre)
            surface = calibration.evaluate_surface(coefficients, x, y)
            velocity.remove_velocity(chunk["series"], surface, years)
            attributes = {name: chunk[name] for name in bulk.POINT_FLOAT_COLUMNS}
            attributes.update(
                velocity.fit_series(chunk["series"], years, source.wavelength_m * 1e3)
            )
            ids = bulk.reserve_point_ids(len(chunk["id"]))
            pids = series_io.read_pids(source, (int(chunk["id"][0]), int(chunk["id"][-1])))
            bulk.copy_points(output, ids, pids, chunk["lon"], chunk["lat"], attributes)
            bulk.copy_series(ids, chunk["series"])
            progress(fraction, f"calibrated {fraction:.0%} of {source.slug}")
        bulk.refresh_summary(output)
    return output, report
