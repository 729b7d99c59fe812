"""Validation: our products against synthetic truth, beside a plain numpy reference.

Usage: DEBUG=true .venv/bin/python -m bench validation
(BENCH_VALIDATION_POINTS, default 20,000 per track; BENCH_VALIDATION_SEEDS, default 1, e.g.
"1,2,3": every figure is then the RMS over the seeds). It loads every region of
fixtures/validation_regions.py into a scratch database (bench_validation), runs our chain as
`make demo-products` does (calibrate each track, decompose on 100 m cells with the GNSS
north) and prints, per region and figure, the velocity RMSE against truth (mm/yr) of:
- ours: the stored L2a, L2b and L3 datasets;
- reference: plain numpy on the same L2a velocity columns: per station the mean velocity of
  the points within 500 m minus the GNSS LOS velocity, a plane per track by unweighted least
  squares, then per 100 m cell an unweighted least-squares [los_east, los_up] solve;
- floor: the same plain solve after removing the true track error (the noise alone);
then the z-score variances of our L2b and L3 velocity stds against the actual errors.
"""

from __future__ import annotations

import datetime
import io
import os
from dataclasses import replace

import numpy as np

from fixtures import demo_region, validation_regions

STATION_RADIUS_KM = 0.5
CELL_M = 100.0
FIGURES = ("L2a asc", "L2a desc", "L2b asc", "L2b desc", "L3 up", "L3 east")


def load_region(region: validation_regions.Region, points: int, years: float = 3.0) -> dict:
    """The region's two L2a datasets and its GNSS network, in the current database."""
    from django.core.management import call_command

    from groundmotion.models import Dataset

    if region.name == validation_regions.DAX_DEMO.name:
        call_command(
            "make_demo", points=points, seed=region.seed, years=years, stdout=io.StringIO()
        )
        network = "demo-gnss"
    else:
        network = _load_synthetic(region, points, years)
    tracks = {t.pass_direction: Dataset.objects.get(slug=t.slug) for t in region.tracks}
    return {"region": region, "network": network, "l2a": tracks}


def _load_synthetic(region: validation_regions.Region, points: int, years: float) -> str:
    from django.contrib.gis.geos import Point
    from django.db import transaction

    from groundmotion.models import Dataset, GNSSNetwork, GNSSStation, Level, Status
    from groundmotion.storage import copy_in, partitions, queries

    dates = demo_region.acquisition_dates(years, region.seed)
    for track in region.tracks:
        Dataset.objects.filter(slug=track.slug).delete()
        with partitions.StagedPoints() as staged, transaction.atomic():
            dataset = Dataset.objects.create(
                slug=track.slug,
                name=f"{region.name} {track.pass_direction} L2a (synthetic)",
                area=region.name,
                level=Level.L2A,
                pass_direction=track.pass_direction,
                relative_orbit=track.relative_orbit,
                acquisition_dates=dates,
                reference_date=dates[0],
                status=Status.PUBLISHED,
                provenance={"generator": "fixtures.validation_regions", "region": region.name},
            )
            for chunk in validation_regions.generate_track(region, track, points, dates):
                ids = copy_in.reserve_point_ids(len(chunk["pid"]), dataset.pk)
                copy_in.copy_points(
                    dataset, ids, chunk["pid"], chunk["lon"], chunk["lat"],
                    chunk["attributes"], staged,
                )  # fmt: skip
                copy_in.copy_series(ids, chunk["series"])
            copy_in.finish_load(dataset, staged)
    slug = f"{region.name}-gnss"
    GNSSNetwork.objects.filter(slug=slug).delete()
    network = GNSSNetwork.objects.create(slug=slug, name=f"{region.name} GNSS (synthetic)")
    GNSSStation.objects.bulk_create(
        GNSSStation(
            network=network,
            code=s["code"],
            geom=Point(s["lon"], s["lat"], srid=4326),
            velocity_east=s["east"],
            velocity_north=s["north"],
            velocity_up=s["up"],
            velocity_east_std=s["std"],
            velocity_north_std=s["std"],
            velocity_up_std=s["std"],
        )
        for s in validation_regions.gnss_velocities(region, dates)
    )
    queries.analyze_point_tables()
    return slug


def run_chain(loaded: dict) -> dict:
    """Our products, as `make demo-products` makes them: L2b per track, then L3."""
    from groundmotion.models import GNSSNetwork
    from processing.products import decompose
    from processing.products.calibrate import calibrate_dataset

    network = GNSSNetwork.objects.get(slug=loaded["network"])
    l2b, reports = {}, {}
    for direction, dataset in loaded["l2a"].items():
        l2b[direction], reports[direction] = calibrate_dataset(
            dataset, network, dataset.slug.replace("-l2a", "-l2b")
        )
    name = loaded["region"].name
    up, east = decompose.decompose_datasets(
        l2b["ascending"], l2b["descending"], up_slug=f"{name}-l3-up",
        east_slug=f"{name}-l3-east", network=network, cell_size=int(CELL_M),
    )  # fmt: skip
    return {"l2b": l2b, "reports": reports, "up": up, "east": east}


def read_points(dataset) -> dict[str, np.ndarray]:
    """lon, lat, pid, velocity, velocity_std and los (n x 3) of a dataset, by pid."""
    from groundmotion.models import MeasurementPoint

    rows = list(
        MeasurementPoint.objects.filter(dataset=dataset)
        .order_by("pid")
        .values_list("pid", "geom", "velocity", "velocity_std", "los_east", "los_north", "los_up")
    )
    return {
        "pid": np.array([r[0] for r in rows]),
        "lon": np.array([r[1].x for r in rows]),
        "lat": np.array([r[1].y for r in rows]),
        "velocity": np.array([r[2] for r in rows], dtype=float),
        "velocity_std": np.array([r[3] for r in rows], dtype=float),
        "los": np.array([r[4:7] for r in rows], dtype=float).reshape(len(rows), 3),
    }


# The plain reference: numpy only, nothing of processing/.


def plain_plane(points: dict, stations: list[dict]) -> np.ndarray:
    """L2b velocities: the L2a velocity less an unweighted least-squares plane (or offset)
    fitted to the mean InSAR minus GNSS LOS velocity at each station."""
    lon0, lat0 = np.mean(points["lon"]), np.mean(points["lat"])
    x, y = demo_region.local_km(points["lon"], points["lat"], lon0, lat0)
    ties = []
    for s in stations:
        sx, sy = demo_region.local_km(s["lon"], s["lat"], lon0, lat0)
        near = np.hypot(x - sx, y - sy) <= STATION_RADIUS_KM
        if near.any():
            los = points["los"][near].mean(axis=0)
            gnss = s["east"] * los[0] + s["north"] * los[1] + s["up"] * los[2]
            ties.append((sx, sy, points["velocity"][near].mean() - gnss))
    tie = np.array(ties)
    design = np.column_stack([np.ones(len(tie)), tie[:, 0], tie[:, 1]])
    design = design if len(tie) >= 3 else design[:, :1]
    coefficients = np.linalg.lstsq(design, tie[:, 2], rcond=None)[0]
    full = np.column_stack([np.ones_like(x), x, y])[:, : len(coefficients)]
    return points["velocity"] - full @ coefficients


def plain_cells(geometries: list[dict], velocities: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per 100 m EPSG:3035 cell holding both geometries: unweighted [los_east, los_up] solve."""
    from pyproj import Transformer

    to_laea = Transformer.from_crs(4326, 3035, always_xy=True)
    columns, rows, label, los_e, los_u = [], [], [], [], []
    for k, g in enumerate(geometries):
        easting, northing = to_laea.transform(g["lon"], g["lat"])
        columns.append(np.floor(np.asarray(easting) / CELL_M).astype(np.int64))
        rows.append(np.floor(np.asarray(northing) / CELL_M).astype(np.int64))
        label.append(np.full(len(easting), k))
        los_e.append(g["los"][:, 0])
        los_u.append(g["los"][:, 2])
    column, row, label = np.concatenate(columns), np.concatenate(rows), np.concatenate(label)
    ae, au, v = np.concatenate(los_e), np.concatenate(los_u), np.concatenate(velocities)
    key = (row << 32) + column
    keys, cell = np.unique(key, return_inverse=True)
    both = np.zeros((len(keys), 2), dtype=bool)
    both[cell, label] = True
    # Normal equations summed per cell, then one 2 x 2 solve each.
    sums = [
        np.bincount(cell, weights=w, minlength=len(keys))
        for w in (ae * ae, ae * au, au * au, ae * v, au * v)
    ]
    a11, a12, a22, b1, b2 = sums
    determinant = a11 * a22 - a12 * a12
    keep = both.all(axis=1) & (determinant > 1e-9)
    east = (a22 * b1 - a12 * b2)[keep] / determinant[keep]
    up = (a11 * b2 - a12 * b1)[keep] / determinant[keep]
    return {"key": keys[keep], "east": east, "up": up}


def cell_truth(keys: np.ndarray, dates: list[datetime.date]) -> dict[str, np.ndarray]:
    """True east and up velocity at the centres of cells given by key (row << 32 + column)."""
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs(3035, 4326, always_xy=True)
    column, row = keys & 0xFFFFFFFF, keys >> 32
    lon, lat = to_wgs84.transform((column + 0.5) * CELL_M, (row + 0.5) * CELL_M)
    east, _, up = demo_region.true_enu_velocity(np.asarray(lon), np.asarray(lat), dates)
    return {"east": east, "up": up}


def rmse(values: np.ndarray) -> float:
    return float(np.sqrt(np.nanmean(np.square(values))))


def evaluate(loaded: dict, products: dict) -> dict:
    """Per figure: ours, reference and floor RMSE (mm/yr); z-score variances of our stds."""
    from groundmotion.models import GNSSStation

    region = loaded["region"]
    stations = [
        {"code": s.code, "lon": s.geom.x, "lat": s.geom.y, "east": s.velocity_east,
         "north": s.velocity_north, "up": s.velocity_up}
        for s in GNSSStation.objects.filter(network__slug=loaded["network"])
    ]  # fmt: skip
    table, zscores, inputs, plain, oracle, our_columns = {}, {}, [], [], [], []
    for track in region.tracks:
        direction = track.pass_direction
        short = "asc" if direction == "ascending" else "desc"
        source = read_points(loaded["l2a"][direction])
        dates = loaded["l2a"][direction].acquisition_dates
        truth = demo_region.true_los_velocity(
            track, source["lon"], source["lat"],
            {k: source["los"][:, i] for i, k in enumerate(("los_east", "los_north", "los_up"))},
            dates, with_error=False,
        )  # fmt: skip
        error = demo_region.track_error_velocity(
            track.error_parameters(), source["lon"], source["lat"]
        )
        reference = plain_plane(source, stations)
        ours = read_points(products["l2b"][direction])
        assert (ours["pid"] == source["pid"]).all()
        table[f"L2a {short}"] = (rmse(source["velocity"] - truth),) * 2 + (
            rmse(source["velocity"] - error - truth),
        )
        table[f"L2b {short}"] = (
            rmse(ours["velocity"] - truth),
            rmse(reference - truth),
            rmse(source["velocity"] - error - truth),
        )
        zscores[f"L2b {short}"] = float(np.var((ours["velocity"] - truth) / ours["velocity_std"]))
        inputs.append(source)
        plain.append(reference)
        oracle.append(source["velocity"] - error)
        our_columns.append(ours["velocity"])
    dates = products["up"].acquisition_dates
    reference_cells, floor_cells = plain_cells(inputs, plain), plain_cells(inputs, oracle)
    # Diagnostic: the plain per-cell solve of our own L2b velocity columns.
    column_cells = plain_cells(inputs, our_columns)
    diagnostic = {}
    for name in ("up", "east"):
        ours = read_points(products[name])
        keys = _pid_keys(ours["pid"])
        common, in_ours, in_reference = np.intersect1d(
            keys, reference_cells["key"], return_indices=True
        )
        truth = cell_truth(common, dates)[name]
        table[f"L3 {name}"] = (
            rmse(ours["velocity"][in_ours] - truth),
            rmse(reference_cells[name][in_reference] - truth),
            rmse(floor_cells[name][in_reference] - truth),
        )
        diagnostic[f"L3 {name}"] = rmse(column_cells[name][in_reference] - truth)
        z = (ours["velocity"][in_ours] - truth) / ours["velocity_std"][in_ours]
        zscores[f"L3 {name}"] = float(np.nanvar(z))
    return {"table": table, "zscores": zscores, "cells": len(common), "diagnostic": diagnostic}


def _pid_keys(pids: np.ndarray) -> np.ndarray:
    """Cell keys (row << 32 + column) back from EGMS L3 pids ("10" + base 62)."""
    from processing.kernels.decomposition import BASE62

    digit = {c: i for i, c in enumerate(BASE62)}
    out = np.zeros(len(pids), dtype=np.int64)
    for k, pid in enumerate(pids):
        value = 0
        for c in pid[2:]:
            value = value * 62 + digit[c]
        out[k] = value
    return out


def validate(region: validation_regions.Region, points: int) -> dict:
    from groundmotion.models import Dataset

    derived = [t.slug.replace("-l2a", "-l2b") for t in region.tracks]
    derived += [f"{region.name}-l3-up", f"{region.name}-l3-east"]
    for dataset in Dataset.objects.filter(slug__in=derived):
        dataset.delete()  # one by one: a dataset's delete drops its partition
    loaded = load_region(region, points)
    products = run_chain(loaded)
    result = evaluate(loaded, products)
    result["reports"] = products["reports"]
    return result


def combine(draws: list[dict]) -> dict:
    """Several seeds of one region: every RMSE as the RMS over the seeds, z-score variances
    and diagnostics as means."""
    first = draws[0]

    def rms(values: list[float]) -> float:
        return float(np.sqrt(np.mean(np.square(values))))

    return {
        "table": {
            f: tuple(rms([d["table"][f][k] for d in draws]) for k in range(3))
            for f in first["table"]
        },
        "zscores": {f: float(np.mean([d["zscores"][f] for d in draws])) for f in first["zscores"]},
        "diagnostic": {f: rms([d["diagnostic"][f] for d in draws]) for f in first["diagnostic"]},
        "cells": int(np.mean([d["cells"] for d in draws])),
        "reports": first["reports"],
    }


def _triple(values: tuple) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def print_table(results: dict[str, dict]) -> None:
    print("RMSE against truth, mm/yr: ours / plain reference / truth-noise floor")
    print(f"{'region':10} " + " ".join(f"{f:>20}" for f in FIGURES))
    for name, result in results.items():
        cells = " ".join(f"{_triple(result['table'][f]):>20}" for f in FIGURES)
        print(f"{name:10} {cells}")
    print("ratio ours / reference (<= 1.00 wanted):")
    for name, result in results.items():
        ratios = " ".join(
            f"{f} {result['table'][f][0] / result['table'][f][1]:.2f}" for f in FIGURES[2:]
        )
        print(f"  {name:10} {ratios}")
    print("diagnostic: plain per-cell solve of our L2b velocity columns (L3 step alone):")
    for name, result in results.items():
        cells = " ".join(f"{f} {v:.2f}" for f, v in result["diagnostic"].items())
        print(f"  {name:10} {cells} ({result['cells']} cells)")
    print("z-score variance of our velocity stds (1 wanted):")
    for name, result in results.items():
        z = " ".join(f"{f} {v:.2f}" for f, v in result["zscores"].items())
        print(f"  {name:10} {z}")


def main() -> None:
    from bench._scratch import scratch_database

    points = int(os.environ.get("BENCH_VALIDATION_POINTS", "20000"))
    seeds = [int(s) for s in os.environ.get("BENCH_VALIDATION_SEEDS", "1").split(",")]
    with scratch_database("bench_validation") as run:
        os.environ["DATABASE_URL"] = run.url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        results = {}
        for region in validation_regions.REGIONS:
            draws = [validate(replace(region, seed=seed), points) for seed in seeds]
            results[region.name] = combine(draws)
        print(
            f"{points:,} points per track, 100 m cells, seeds {seeds} (RMS over seeds), "
            f"{os.cpu_count()} cores"
        )
        print_table(results)
        from django.db import connections

        connections.close_all()
