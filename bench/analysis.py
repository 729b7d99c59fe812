"""bench/analysis: the analysis paths of issue 15 on 10^6 points x ~200 dates, in one run.

  BENCH_ANALYSIS_POINTS   points per track for make_demo (default 500,000: 10^6 in all)
  BENCH_ANALYSIS_TILES    tiles timed per kind (default 60)

Each line compares us with ourselves, as the issue's targets do (no peer serves a period or a
reference from a database: insarmaps fits its window per request in Python over one
dataset's points, offline here):
  period tile   a z13-15 point tile with ?start=&end= (series read and fitted per tile)
                against the same tiles without: p50 ratio, target <= 2
  period cells  z8-10 cell tiles with a period (each cell's summed series fitted): p95 ms
                uncached, target <= 300 ms
  profile       POST /api/profile/ 10 km x 200 m through the densest town: ms, target <= 300
  reference     a z13-15 point tile with ?reference=<point>: p50 ratio, target <= 1.2
Requests go through Django's test client in this process with the tile caches off (every
tile rendered by PostGIS), DEBUG off; one warm-up pass first, so each time is a served tile.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import psycopg

from bench import _tile_data as data
from bench._tile_servers import ROOT
from fixtures import demo_region

DATABASE = "bench_analysis"
YEARS = "3.3"  # a 6-day revisit over 3.3 years: ~200 acquisitions
TARGETS = {"period tile": 2.0, "period cells": 300.0, "profile": 300.0, "reference": 1.2}


def ensure_database(points: int) -> str:
    url = data.database_url(DATABASE)
    admin = data.plain(url).rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]
        ).fetchone():
            connection.execute(f"CREATE DATABASE {DATABASE}")
    os.environ.setdefault("SECRET_KEY", "bench-analysis-not-secret")
    environment = {**os.environ, "DATABASE_URL": url}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=environment, check=True)
    if data.point_total(url) != 2 * points:
        print(f"loading make_demo --points {points:,} --years {YEARS} ...", flush=True)
        command = [*manage, "make_demo", "--points", str(points), "--years", YEARS]
        subprocess.run(command, env=environment, check=True)
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "false"
    os.environ["GROUNDMOTION_TILE_CACHE_SECONDS"] = "0"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    return url


def timed_ms(function) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def time_tiles(client, paths: list[str], params: dict) -> list[float]:
    def get(path: str) -> None:
        response = client.get(path, params, HTTP_HOST="localhost")
        if response.status_code != 200:
            raise RuntimeError(f"{path} {params}: {response.status_code} {response.content[:200]}")

    for path in paths[:5]:
        get(path)
    return [timed_ms(lambda path=path: get(path)) for path in paths]


def report(name: str, value: float, unit: str, detail: str) -> None:
    target = TARGETS[name]
    ratio = value / target
    print(
        f"{name:<13} {value:8.2f} {unit:<6} target {target:g} {unit}: "
        f"{'meets' if ratio <= 1 else 'misses'} ({ratio:.2f} of target)  {detail}",
        flush=True,
    )


def main() -> None:
    points = int(os.environ.get("BENCH_ANALYSIS_POINTS", "500000"))
    count = int(os.environ.get("BENCH_ANALYSIS_TILES", "60"))
    ensure_database(points)
    from django.test import Client

    from groundmotion.models import Dataset, MeasurementPoint

    dataset = Dataset.objects.get(slug=data.SLUGS[0])
    dates = dataset.acquisition_dates
    print(f"{dataset.slug}: {dataset.point_count:,} points x {len(dates)} dates", flush=True)
    start, end = dates[len(dates) // 3].isoformat(), dates[-1].isoformat()
    period = {"start": start, "end": end}
    rng = np.random.default_rng(15)
    high = [
        f"/tiles/{dataset.slug}/{z}/{x}/{y}.pbf"
        for zoom in (13, 14, 15)
        for (z, x, y) in data.tiles_at_zoom(zoom, rng)[: count // 3]
    ]
    low = [
        f"/tiles/{dataset.slug}/{z}/{x}/{y}.pbf"
        for zoom in (8, 9, 10)
        for (z, x, y) in data.tiles_at_zoom(zoom, rng)[: count // 3]
    ]
    client = Client()
    plain = time_tiles(client, high, {})
    with_period = time_tiles(client, high, period)
    report(
        "period tile",
        statistics.median(with_period) / statistics.median(plain),
        "x",
        f"p50 {statistics.median(with_period):.1f} ms with {start}..{end} against "
        f"{statistics.median(plain):.1f} ms plain, {len(high)} tiles z13-15",
    )
    cells = time_tiles(client, low, period)
    report(
        "period cells",
        percentile(cells, 0.95),
        "ms",
        f"p50 {statistics.median(cells):.1f} ms, {len(low)} tiles z8-10, uncached",
    )
    _, lon, lat, _, _ = demo_region.TOWNS[0]
    half_lon = 5.0 / demo_region.KM_PER_DEG_LON
    line = {"type": "LineString", "coordinates": [[lon - half_lon, lat], [lon + half_lon, lat]]}
    body = json.dumps({"dataset": dataset.slug, "line": line, "width": 200})

    def profile() -> None:
        response = client.post(
            "/api/profile/", body, content_type="application/json", HTTP_HOST="localhost"
        )
        if response.status_code != 200:
            raise RuntimeError(f"profile: {response.status_code} {response.content[:300]}")
        profile.count = response.json()["count"]

    profile()
    times = [timed_ms(profile) for _ in range(10)]
    report(
        "profile",
        statistics.median(times),
        "ms",
        f"p50 of 10, {profile.count:,} points on 10 km x 200 m"
        f" (p95 {percentile(times, 0.95):.0f} ms)",
    )
    reference = MeasurementPoint.objects.filter(dataset=dataset).values_list("id", flat=True)[0]
    referenced = time_tiles(client, high, {"reference": reference})
    report(
        "reference",
        statistics.median(referenced) / statistics.median(plain),
        "x",
        f"p50 {statistics.median(referenced):.1f} ms against"
        f" {statistics.median(plain):.1f} ms plain",
    )


if __name__ == "__main__":
    main()
