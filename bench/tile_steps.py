"""bench/tile_steps: where a tile or point-detail request spends its time, in one process.

Usage: .venv/bin/python -m bench tile_steps (same data and BENCH_TILES_POINTS as bench/tiles)
  BENCH_STEPS_TILES  high-zoom tiles drawn at random from bench/tiles' list (default 150)
Prints the median per request, in ms, of:
- the stored F statement of each tile through psycopg, with PostgreSQL's default parallel
  workers and without them (what ours sends: SET LOCAL max_parallel_workers_per_gather = 0);
- the tile endpoint through Django's test client (no HTTP), uncached and from the process LRU;
- the point detail endpoint, and its access step (access.point_for_user) alone.
No gunicorn, no wrk: the difference between these and bench/tiles is the HTTP hop.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable

import psycopg

from bench import _tile_data as data


def median_ms(items: list, call: Callable[[object], object], warm: int = 10) -> float:
    for item in items[:warm]:
        call(item)
    timings = []
    for item in items:
        started = time.perf_counter()
        call(item)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def statement_steps(url: str, numbers: list[int]) -> None:
    with psycopg.connect(data.plain(url), autocommit=True) as database:
        rows = database.execute("SELECT i, sql FROM bench_tile_sql WHERE class = 'high'")
        statements = dict(rows.fetchall())
        # The stored message starts with the SET LOCALs; the bare statement follows them.
        bare = [statements[number].rsplit(";", 1)[-1] for number in numbers]
        for workers in (2, 0):
            database.execute(f"SET max_parallel_workers_per_gather = {workers}")
            run = lambda sql: database.execute(sql).fetchone()  # noqa: E731
            print(
                f"  tile statement, psycopg, parallel workers {workers}: "
                f"{median_ms(bare, run):.2f} ms"
            )


def endpoint_steps(paths: list[str], point_ids: list[int]) -> None:
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser
    from django.test import Client

    from groundmotion import access

    client = Client()
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_CACHE_SECONDS": 0}
    print(f"  tile endpoint, uncached: {median_ms(paths, client.get):.2f} ms")
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_CACHE_SECONDS": 3600}
    for path in paths:
        client.get(path)  # fills the process LRU
    print(f"  tile endpoint, from the process cache: {median_ms(paths, client.get):.2f} ms")
    detail = [f"/api/points/{point_id}/" for point_id in point_ids]
    print(f"  point detail endpoint: {median_ms(detail, client.get):.2f} ms")
    anonymous = AnonymousUser()
    step = lambda point_id: access.point_for_user(anonymous, point_id, with_series=True)  # noqa: E731
    print(f"  point detail, access.point_for_user alone: {median_ms(point_ids, step):.2f} ms")


def main() -> None:
    points = int(os.environ.get("BENCH_TILES_POINTS", "5000000"))
    count = int(os.environ.get("BENCH_STEPS_TILES", "150"))
    # As the benchmark's gunicorn runs: production settings, plain HTTP (the test client's host).
    for name, value in (
        ("DEBUG", "false"),
        ("SECRET_KEY", "bench-only"),
        ("ALLOWED_HOSTS", "testserver"),
        ("SECURE_SSL_REDIRECT", "false"),
    ):
        os.environ.setdefault(name, value)
    url = data.ensure_database(points)
    tiles = data.tile_list()
    data.store_tile_sql(url, tiles)
    rng = random.Random(20261121)
    numbers = [rng.randint(1, len(tiles["high"])) for _ in range(count)]
    print(f"bench/tile_steps: {data.point_total(url):,} points, {count} high-zoom tiles")
    statement_steps(url, numbers)
    paths = [data.tile_path(tiles["high"][number - 1]) for number in numbers]
    endpoint_steps(paths, data.sample_point_ids(url, count))
