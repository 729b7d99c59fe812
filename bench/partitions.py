"""bench/partitions: point detail and tiles at 2, 50 and 500 datasets (issue 17).

  BENCH_PARTITIONS_POINTS   points per dataset (default 1,000)
  BENCH_PARTITIONS_SCALES   dataset counts measured (default 2,50,500)
  BENCH_PARTITIONS_CALLS    timed calls per measure (default 200)

Each dataset is loaded as a load is (StagedPoints: its own points, series and extras
partitions, attached at the end). At each scale, in this process, alternating:
  point lookup before   access.point_for_user's statement with `id = X` alone (what it was):
                        every points partition's primary key is probed at planning
  point lookup after    access.point_lookup as it is: compiled per dataset (storage/point_ids.py,
                        the dataset follows from the id), dataset and series id range written
                        into the SQL, so that it prunes to one partition when planned
  plan, run             of each statement from EXPLAIN (ANALYZE, SUMMARY), ids spread over every
                        dataset (a custom plan per id)
  call                  the lookup in Python as served: a prepared statement (psycopg
                        prepare_threshold 0), the point and its series as objects; after one
                        untimed pass over the same ids. psycopg keeps 100 prepared statements
                        a connection (prepared_max): past 100 datasets in use, some lookups
                        are prepared again and planned (pruned) at their call
  point tile, cell tile tiles.render_tile for a z14 point tile and a z10 cell tile of one
                        dataset (no cache): already filtered by dataset, they should not move
Ratios printed: before / after at each scale, and each measure at the largest scale over the
smallest. Data: database bench_partitions, created and dropped by the run.
"""

from __future__ import annotations

import datetime
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_partitions"
DATES = [datetime.date(2020, 1, 1) + datetime.timedelta(days=12 * i) for i in range(60)]
CENTRE = (-1.06, 43.70)


def setting(name: str, default: str) -> str:
    return os.environ.get(f"BENCH_PARTITIONS_{name}", default)


def create_database() -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL", "postgis://postgres@127.0.0.1:54329/groundmotion")
    url = base.rsplit("/", 1)[0] + f"/{DATABASE}"
    admin = url.replace("postgis://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    with psycopg.connect(url.replace("postgis://", "postgresql://"), autocommit=True) as db:
        db.execute("CREATE EXTENSION postgis")
    environment = {**os.environ, "DATABASE_URL": url, "DEBUG": "true"}
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env=environment,
        check=True,
    )
    os.environ.update(DATABASE_URL=url, DEBUG="false", SECURE_SSL_REDIRECT="false")
    os.environ.setdefault("SECRET_KEY", "bench-partitions-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    return url, admin


def load_dataset(number: int, points: int, rng: np.random.Generator) -> None:
    from django.db import transaction

    from groundmotion.models import Dataset, Status, Visibility
    from groundmotion.storage import copy_in, partitions

    with partitions.StagedPoints() as staged, transaction.atomic():
        dataset = Dataset.objects.create(
            slug=f"track-{number}",
            name=f"track {number}",
            acquisition_dates=DATES,
            reference_date=DATES[0],
            status=Status.PUBLISHED,
            visibility=Visibility.PUBLIC,
        )
        ids = copy_in.reserve_point_ids(points, dataset.pk)
        lon = CENTRE[0] + rng.uniform(-0.01, 0.01, points)
        lat = CENTRE[1] + rng.uniform(-0.01, 0.01, points)
        velocity = rng.normal(0, 3, points)
        years = np.array([(d - DATES[0]).days / 365.25 for d in DATES])
        series = (velocity[:, None] * years + rng.normal(0, 1, (points, len(DATES)))).astype("f4")
        pids = np.array([f"P{i:07d}" for i in range(points)])
        attributes = {"velocity": velocity, "temporal_coherence": np.full(points, 0.9)}
        copy_in.copy_points(dataset, ids, pids, lon, lat, attributes, staged)
        copy_in.copy_series(ids, series)
        copy_in.finish_load(dataset, staged)


def unpruned_lookup() -> object:
    """access.point_lookup's statement as it was: the point by `id = X` alone."""
    from django.contrib.auth.models import AnonymousUser
    from django.db.models import Exists, OuterRef

    from groundmotion import access
    from groundmotion.models import MeasurementPoint
    from groundmotion.storage.compiled import CompiledLookup

    user = AnonymousUser()
    points = MeasurementPoint.objects.select_related("dataset", "series")
    points = points.defer(*access.POINT_DATASET_DEFERRED).filter(
        pk=access.POINT_PLACEHOLDER,
        dataset__in=access.datasets_with_visible_points(user).values("pk"),
    )
    masked = access.active_masks(OuterRef("dataset_id")).filter(geom__intersects=OuterRef("geom"))
    points = points.filter(~Exists(masked))
    return CompiledLookup(points.order_by("pk")[:1], access.POINT_PLACEHOLDER)


def explain_ms(lookup: object, point_id: int) -> tuple[float, float]:
    """(planning, execution) ms of the lookup's statement for one id, a custom plan."""
    from django.db import connection

    params = [point_id if value == lookup.placeholder else value for value in lookup.params]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) " + lookup.sql, params)
        plan = cursor.fetchone()[0][0]
    return plan["Planning Time"], plan["Execution Time"]


def call_ms(function: object, values: list) -> float:
    times = []
    for value in values:
        started = time.perf_counter()
        function(value)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(scale: int, calls: int, rng: np.random.Generator) -> dict[str, float]:
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection

    from groundmotion import access, tiles
    from groundmotion.models import Dataset, MeasurementPoint
    from groundmotion.storage import point_ids

    anonymous = AnonymousUser()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    ids = list(MeasurementPoint.objects.values_list("id", flat=True))
    chosen = [int(value) for value in rng.choice(ids, calls)]
    before = unpruned_lookup()
    if before.first(chosen[0]).pk != access.point_for_user(anonymous, chosen[0])[0].pk:
        raise RuntimeError("the two lookups disagree")
    results: dict[str, list[float]] = {
        key: [] for key in ("plan before", "plan after", "run before", "run after")
    }
    for point_id in chosen:
        after = access.point_lookup(anonymous, True, point_ids.dataset_of(point_id))
        for name, lookup in (("before", before), ("after", after)):
            planning, execution = explain_ms(lookup, point_id)
            results[f"plan {name}"].append(planning)
            results[f"run {name}"].append(execution)
    figures = {key: statistics.median(values) for key, values in results.items()}
    # End to end in Python, prepared statements as served (psycopg prepare_threshold 0), after
    # one untimed pass over the same ids (lookups compiled, statements prepared).
    served = lambda point_id: access.point_for_user(anonymous, point_id, True)  # noqa: E731
    for function in (before.first, served):
        call_ms(function, chosen)
    figures["call before"] = call_ms(before.first, chosen)
    figures["call after"] = call_ms(served, chosen)
    dataset = Dataset.objects.get(slug="track-1")
    point_address = tiles.TileAddress(*tile_at(*CENTRE, 14))
    cell_address = tiles.TileAddress(*tile_at(*CENTRE, 10))
    point_kind = tiles.tile_kind(anonymous, dataset, 14)
    cell_kind = tiles.tile_kind(anonymous, dataset, 10)
    if not tiles.render_tile(anonymous, dataset, point_address, point_kind):
        raise RuntimeError("the point tile is empty")
    repeats = list(range(max(calls // 4, 20)))
    figures["point tile"] = call_ms(
        lambda _: tiles.render_tile(anonymous, dataset, point_address, point_kind), repeats
    )
    figures["cell tile"] = call_ms(
        lambda _: tiles.render_tile(anonymous, dataset, cell_address, cell_kind), repeats
    )
    return figures


def tile_at(lon: float, lat: float, zoom: int) -> tuple[int, int, int]:
    import math

    count = 2**zoom
    x = int((lon + 180.0) / 360.0 * count)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * count)
    return zoom, x, y


def main() -> None:
    points = int(setting("POINTS", "1000"))
    scales = [int(value) for value in setting("SCALES", "2,50,500").split(",")]
    calls = int(setting("CALLS", "200"))
    url, admin = create_database()
    rng = np.random.default_rng(17)
    load = os.getloadavg()[0]
    print(f"cpus: {os.cpu_count()}, load average {load:.1f}; {points:,} points a dataset")
    measured: dict[int, dict[str, float]] = {}
    loaded = 0
    try:
        for scale in scales:
            started = time.perf_counter()
            while loaded < scale:
                loaded += 1
                load_dataset(loaded, points, rng)
            seconds = time.perf_counter() - started
            figures = measured[scale] = measure(scale, calls, rng)
            print(f"{scale} datasets (loaded in {seconds:.1f} s):")
            for kind in ("plan", "run", "call"):
                b, a = figures[f"{kind} before"], figures[f"{kind} after"]
                print(
                    f"  point lookup {kind:4} before {b:7.3f} ms  after {a:7.3f} ms"
                    f"  before/after {b / a:5.1f}x"
                )
            tile, cell = figures["point tile"], figures["cell tile"]
            print(f"  point tile z14 {tile:.2f} ms, cell tile z10 {cell:.2f} ms")
        low, high = measured[scales[0]], measured[scales[-1]]
        print(f"{scales[-1]} datasets over {scales[0]} (1.0 = many cost what few do):")
        for key in (
            "plan before",
            "plan after",
            "call before",
            "call after",
            "point tile",
            "cell tile",
        ):
            print(f"  {key:12} {high[key] / low[key]:5.2f}x")
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    del url


if __name__ == "__main__":
    main()
