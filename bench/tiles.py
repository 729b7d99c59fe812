"""bench/tiles: our tile endpoint against the PostGIS floor (pgbench), TiPg and django-vectortiles.

Usage: .venv/bin/python -m bench tiles
  BENCH_TILES_POINTS   points per track for make_demo (default 5,000,000: 10 M in all)
  BENCH_TILES_SECONDS  seconds per measurement (default 8)
  BENCH_TILES_SERVERS  comma-separated subset of F,before,ours,cached,T,V (default all)
  BENCH_TILES_BEFORE   a checkout of earlier code (e.g. `git archive main`) run as "before",
                       uncached, on the same database, for before/after in one run
The data live in their own database (bench_tiles), loaded once and kept for later runs.
Baselines T and V run from var/bench-venv (pip install tipg django-vectortiles there); they are
not dependencies of the service.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench import _tile_data as data
from bench import _tile_servers as servers

CONCURRENCY = (1, 4, 16)
PORTS = {"before": 18085, "ours": 18081, "cached": 18082, "T": 18083, "V": 18084}


def measure_http(name: str, base: str, paths: dict[str, list[str]], seconds: int) -> list[dict]:
    # Warm-up, not measured: worker start, database connections, PROJ set-up per connection,
    # and each class once (the low class, measured first, otherwise took the start-up costs).
    servers.run_wrk(base, paths["high"], 16, 3)
    for class_paths in paths.values():
        servers.run_wrk(base, class_paths, 4, 1)
    rows = []
    for tile_class, class_paths in paths.items():
        for connections in CONCURRENCY:
            result = servers.run_wrk(base, class_paths, connections, seconds)
            rows.append({"server": name, "class": tile_class, "c": connections, **result})
            print_row(rows[-1])
    return rows


def measure_floor(url: str, tiles: dict[str, list], seconds: int) -> list[dict]:
    rows = []
    for tile_class, class_tiles in tiles.items():
        for clients in CONCURRENCY:
            result = servers.run_pgbench(url, tile_class, len(class_tiles), clients, seconds)
            rows.append({"server": "F", "class": tile_class, "c": clients, **result})
            print_row(rows[-1])
    return rows


def print_row(row: dict) -> None:
    print(
        f"  {row['server']:>6} {row['class']:>5} c={row['c']:<2} {row['rps']:8.1f} req/s  "
        f"p50 {row['p50']:7.2f}  p95 {row['p95']:7.2f}  p99 {row['p99']:7.2f} ms  "
        f"errors {row['errors']}",
        flush=True,
    )


def fetch(url: str) -> tuple[bytes, bytes]:
    """(bytes on the wire, MVT bytes) of a tile fetched as a browser does, accepting gzip."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as response:
        wire = response.read()
        zipped = response.headers.get("Content-Encoding") == "gzip"
    return wire, gzip.decompress(wire) if zipped else wire


def sizes(name: str, base: str, paths: dict[str, list[str]], sample: int) -> None:
    """Bytes (on the wire and as MVT) and features per tile (decoded), so that faster never
    means emitted less."""
    import mapbox_vector_tile

    for tile_class, class_paths in paths.items():
        chosen = class_paths[:: max(1, len(class_paths) // sample)]
        wire_counts, mvt_counts, feature_counts, failures = [], [], [], 0
        for path in chosen:
            try:
                wire, body = fetch(base + path)
            except OSError:
                failures += 1
                continue
            layers = mapbox_vector_tile.decode(body) if body else {}
            wire_counts.append(len(wire))
            mvt_counts.append(len(body))
            feature_counts.append(sum(len(layer["features"]) for layer in layers.values()))
        if not wire_counts:
            print(f"  {name:>6} {tile_class:>5} sizes: every request failed")
            continue
        print(
            f"  {name:>6} {tile_class:>5} {len(wire_counts)} tiles: wire mean "
            f"{np.mean(wire_counts) / 1000:.1f} KB max {max(wire_counts) / 1000:.1f} KB; "
            f"MVT mean {np.mean(mvt_counts) / 1000:.1f} KB max {max(mvt_counts) / 1000:.1f} KB; "
            f"features mean {np.mean(feature_counts):.0f} max {max(feature_counts)}; "
            f"failed {failures}",
            flush=True,
        )


def warm_every_process(base: str, paths: dict[str, list[str]], passes: int = 6) -> None:
    """Fetch every tile `passes` times, 4 at a time, as hot tiles are in real use: then each of
    gunicorn's 4 processes most likely holds each tile in its own LRU, in front of Redis (a
    tile fetched only once sits in one process's LRU; the other three go to Redis for it)."""
    every = [path for class_paths in paths.values() for path in class_paths] * passes
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda path: fetch(base + path), every))


def viewport(base: str, slug: str) -> None:
    """20 neighbouring z14 tiles over Dax, warm, fetched 6 at a time like a browser."""
    paths = [f"/tiles/{slug}/14/{x}/{y}.pbf" for x in range(8143, 8148) for y in range(5981, 5985)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda path: fetch(base + path), paths))
        started = time.perf_counter()
        tiles = list(pool.map(lambda path: fetch(base + path), paths))
    elapsed = time.perf_counter() - started
    print(
        f"  viewport: {len(paths)} warm tiles in {elapsed * 1000:.0f} ms "
        f"({sum(len(wire) for wire, _ in tiles) / 1000:.0f} KB on the wire, "
        f"{sum(len(body) for _, body in tiles) / 1000:.0f} KB of MVT)"
    )


def point_detail(url: str, paths: dict[str, list[str]], seconds: int) -> None:
    """Point detail JSON at c=1 and 4: wrk's latencies (client side, HTTP included) and the
    server's own, from gunicorn's access log (%(D)s: request time in microseconds)."""
    name, command, environment, _ = data.http_servers(url, PORTS, {"ours"}, paths)[0]
    base = f"http://127.0.0.1:{PORTS[name]}"
    point_paths = [f"/api/points/{point_id}/" for point_id in data.sample_point_ids(url)]
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "access.log"
        logging = ["--access-logfile", str(log), "--access-logformat", "%(D)s %(U)s"]
        with servers.server([*command, *logging], environment, base + point_paths[0]):
            servers.run_wrk(base, point_paths, 1, 2)  # warm-up
            for connections in (1, 4):
                log.write_text("")
                result = servers.run_wrk(base, point_paths, connections, seconds)
                server_ms = [
                    int(line.split()[0]) / 1000
                    for line in log.read_text().splitlines()
                    if "/api/points/" in line
                ]
                print(
                    f"  {name:>6} point detail c={connections}: p50 {result['p50']:.2f} ms "
                    f"p95 {result['p95']:.2f} ms, {result['rps']:.0f} req/s, errors "
                    f"{result['errors']}; server-side p50 {np.percentile(server_ms, 50):.2f} "
                    f"ms p95 {np.percentile(server_ms, 95):.2f} ms "
                    f"({len(server_ms)} requests logged)",
                    flush=True,
                )


def ratio(rows: list[dict], server: str, baseline: str, tile_class: str, c: int) -> str:
    ours = next(
        (r for r in rows if r["server"] == server and r["class"] == tile_class and r["c"] == c),
        None,
    )
    base = next(
        (r for r in rows if r["server"] == baseline and r["class"] == tile_class and r["c"] == c),
        None,
    )
    if not ours or not base or base["rps"] == 0:
        return "n/a"
    return f"{ours['rps'] / base['rps']:.2f}x rps, p50 {ours['p50'] - base['p50']:+.2f} ms"


def report(rows: list[dict]) -> None:
    print("=== ratios (ours / baseline)")
    for tile_class in ("high", "mid", "low"):
        for c in CONCURRENCY:
            print(
                f"  {tile_class:>4} c={c:<2} vs F: {ratio(rows, 'ours', 'F', tile_class, c)};"
                f" vs T: {ratio(rows, 'ours', 'T', tile_class, c)};"
                f" vs V: {ratio(rows, 'ours', 'V', tile_class, c)};"
                f" cached/uncached: {ratio(rows, 'cached', 'ours', tile_class, c)};"
                f" ours/before: {ratio(rows, 'ours', 'before', tile_class, c)}"
            )


def main() -> None:
    points = int(os.environ.get("BENCH_TILES_POINTS", "5000000"))
    seconds = int(os.environ.get("BENCH_TILES_SECONDS", "8"))
    wanted = set(os.environ.get("BENCH_TILES_SERVERS", "F,before,ours,cached,T,V").split(","))
    url = data.ensure_database(points)
    tiles = data.tile_list()
    print(
        f"bench/tiles: {data.point_total(url):,} points; tiles: "
        + ", ".join(f"{name} {len(items)}" for name, items in tiles.items()),
        flush=True,
    )
    data.store_tile_sql(url, tiles)
    paths = {name: [data.tile_path(tile) for tile in items] for name, items in tiles.items()}
    rows = measure_floor(url, tiles, seconds) if "F" in wanted else []
    for name, command, environment, paths_for in data.http_servers(url, PORTS, wanted, paths):
        base = f"http://127.0.0.1:{PORTS[name]}"
        with servers.server(command, environment, base + paths_for["high"][0]):
            if name == "cached":
                sizes(name, base, paths_for, 10**6)  # renders every tile into the shared cache
                warm_every_process(base, paths_for)
            rows += measure_http(name, base, paths_for, seconds)
            if name in ("ours", "before"):
                sizes(name, base, paths_for, 200)
            elif name == "cached":
                viewport(base, data.SLUGS[0])
            else:
                sizes(name, base, paths_for, 40)
    if "ours" in wanted:
        point_detail(url, paths, seconds)
    report(rows)
