"""Data for bench/tiles: the 10 M-point database, the fixed tile list and the servers to run."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import psycopg

from bench._tile_servers import BENCH_VENV, ROOT
from fixtures import demo_region

DATABASE = "bench_tiles"
SLUGS = ("demo-dax-asc-l2a", "demo-dax-desc-l2a")
# Tiles per zoom: every tile over the region at low zooms, a fixed sample at the others.
SAMPLE_PER_ZOOM = {11: 80, 12: 120, 13: 200, 14: 200, 15: 200, 16: 200}
CLASSES = {"low": range(6, 11), "mid": range(11, 13), "high": range(13, 17)}


def database_url(database: str = DATABASE) -> str:
    base = os.environ.get("DATABASE_URL") or (
        f"postgis://postgres@127.0.0.1:{os.environ.get('PG_PORT', '54329')}/groundmotion"
    )
    return base.rsplit("/", 1)[0] + f"/{database}"


def plain(url: str) -> str:
    return url.replace("postgis://", "postgresql://")


def point_total(url: str) -> int:
    with psycopg.connect(plain(url)) as connection:
        return connection.execute(
            "SELECT coalesce(sum(point_count), 0) FROM groundmotion_dataset"
        ).fetchone()[0]


def ensure_database(
    points: int, database: str = DATABASE, loaded: Callable[[str], bool] | None = None
) -> str:
    """Create and load `database` (make_demo, `points` a track) unless `loaded(url)` says it
    holds what the bench needs; by default, 2 x `points` points."""
    url = database_url(database)
    admin = plain(url).rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database]
        ).fetchone()
        if not exists:
            connection.execute(f"CREATE DATABASE {database}")
    environment = {**os.environ, "DATABASE_URL": url}
    manage = [sys.executable, str(ROOT / "manage.py")]
    with psycopg.connect(plain(url), autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=environment, check=True)
    if not (loaded(url) if loaded else point_total(url) == 2 * points):
        print(f"loading make_demo --points {points:,} into {database} ...", flush=True)
        subprocess.run([*manage, "make_demo", "--points", str(points)], env=environment, check=True)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    return url


def tile_at(lon: float, lat: float, zoom: int) -> tuple[int, int, int]:
    tiles = 2**zoom
    x = int((lon + 180.0) / 360.0 * tiles)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * tiles)
    return zoom, x, y


def tiles_at_zoom(zoom: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Half dense (around the towns, by weight), half sparse (uniform over the region)."""
    west, south, east, north = demo_region.BBOX
    if zoom not in SAMPLE_PER_ZOOM:
        _, x0, y1 = tile_at(west, south, zoom)
        _, x1, y0 = tile_at(east, north, zoom)
        return [(zoom, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    count = SAMPLE_PER_ZOOM[zoom]
    weights = np.array([town[3] for town in demo_region.TOWNS])
    towns = rng.choice(len(demo_region.TOWNS), count // 2, p=weights / weights.sum())
    chosen = []
    for index in towns:
        _, lon, lat, _, spread_km = demo_region.TOWNS[index]
        lon += rng.normal(0, spread_km) / demo_region.KM_PER_DEG_LON
        lat += rng.normal(0, spread_km) / demo_region.KM_PER_DEG_LAT
        chosen.append(tile_at(lon, lat, zoom))
    for _ in range(count - count // 2):
        chosen.append(tile_at(rng.uniform(west, east), rng.uniform(south, north), zoom))
    return chosen


def tile_list() -> dict[str, list[tuple[str, int, int, int]]]:
    """The fixed list: (dataset slug, z, x, y) per class, alternating the two tracks."""
    rng = np.random.default_rng(20261121)
    result = {}
    for name, zooms in CLASSES.items():
        items = []
        for zoom in zooms:
            for index, tile in enumerate(tiles_at_zoom(zoom, rng)):
                items.append((SLUGS[index % 2], *tile))
        result[name] = items
    return result


def tile_path(tile: tuple[str, int, int, int]) -> str:
    slug, zoom, x, y = tile
    return f"/tiles/{slug}/{zoom}/{x}/{y}.pbf"


def store_tile_sql(url: str, tiles: dict[str, list]) -> None:
    """Our exact tile message (anonymous user): the SET LOCALs and the tile statement,
    parameters inlined, for pgbench to replay."""
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection

    from groundmotion import tiles as tile_module
    from groundmotion.models import Dataset

    datasets = {dataset.slug: dataset for dataset in Dataset.objects.filter(slug__in=SLUGS)}
    rows = []
    prefix = tile_module.statement_settings()
    for tile_class, items in tiles.items():
        for number, (slug, zoom, x, y) in enumerate(items, start=1):
            address = tile_module.TileAddress(zoom, x, y)
            kind = tile_module.tile_kind(AnonymousUser(), datasets[slug], zoom)
            if kind.points:
                stride = tile_module.point_stride(datasets[slug], address)
                sql = tile_module.point_tile_sql(AnonymousUser(), datasets[slug], address, stride)
            else:
                params = {
                    "dataset": datasets[slug].pk,
                    **tile_module.buffered_cell_window(address, kind.level),
                }
                sql = connection.ops.compose_sql(tile_module.CELL_TILE_SQL, params)
            rows.append((tile_class, number, prefix + sql))
    with psycopg.connect(plain(url), autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS bench_tile_sql")
        db.execute(
            "CREATE TABLE bench_tile_sql (class text, i int, sql text, PRIMARY KEY (class, i))"
        )
        with db.cursor().copy("COPY bench_tile_sql FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def sample_point_ids(url: str, count: int = 500) -> list[int]:
    with psycopg.connect(plain(url)) as connection:
        rows = connection.execute(
            "SELECT id FROM groundmotion_measurementpoint TABLESAMPLE SYSTEM (0.1) LIMIT %s",
            [count],
        ).fetchall()
    return [row[0] for row in rows]


def dataset_ids(url: str) -> dict[str, int]:
    with psycopg.connect(plain(url)) as connection:
        rows = connection.execute("SELECT slug, id FROM groundmotion_dataset").fetchall()
    return dict(rows)


def http_servers(url: str, ports: dict[str, int], wanted: set[str], paths: dict) -> list:
    """(name, command, environment, paths) of each HTTP server to measure, in order."""
    django_environment = {
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: without this, DEBUG=false redirects every request to https.
        "SECURE_SSL_REDIRECT": "false",
        "GROUNDMOTION_TILE_CACHE_SECONDS": "0",
    }
    redis = f"redis://127.0.0.1:{os.environ.get('REDIS_PORT', '63799')}/3"
    gunicorn = [str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi", "-w", "4", "-b"]
    result = []
    if "ours" in wanted:
        result.append(
            ("ours", [*gunicorn, f"127.0.0.1:{ports['ours']}"], django_environment, paths)
        )
    if "cached" in wanted:
        cached = {
            **django_environment,
            "CACHE_URL": redis,
            "GROUNDMOTION_TILE_CACHE_SECONDS": "3600",
        }
        result.append(("cached", [*gunicorn, f"127.0.0.1:{ports['cached']}"], cached, paths))
    before = os.environ.get("BENCH_TILES_BEFORE", "")
    if "before" in wanted and before:
        # Another checkout's code (e.g. `git archive main`), same database, same settings.
        command = [*gunicorn[:-1], "--chdir", before, "-b", f"127.0.0.1:{ports['before']}"]
        result.insert(0, ("before", command, django_environment, paths))
    ids = dataset_ids(url)
    if (BENCH_VENV / "bin" / "gunicorn").exists():
        result += baseline_servers(url, ports, wanted, paths, ids)
    return result


def baseline_servers(url: str, ports: dict, wanted: set[str], paths: dict, ids: dict) -> list:
    result = []
    if "T" in wanted:
        tipg_paths = {
            name: [tipg_path(path, ids) for path in class_paths]
            for name, class_paths in paths.items()
        }
        environment = {
            "DATABASE_URL": plain(url),
            "TIPG_DB_SCHEMAS": '["public"]',
            "TIPG_MAX_FEATURES_PER_TILE": "10000",
        }
        command = [
            str(BENCH_VENV / "bin" / "uvicorn"),
            "tipg.main:app",
            "--workers",
            "4",
            "--port",
            str(ports["T"]),
            "--log-level",
            "warning",
        ]
        result.append(("T", command, environment, tipg_paths))
    if "V" in wanted:
        # Plain HTTP as for ours: without SECURE_SSL_REDIRECT=false every answer is a 301.
        environment = {
            "DATABASE_URL": url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-only",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "DJANGO_SETTINGS_MODULE": "bench._vectortiles_site",
        }
        command = [
            str(BENCH_VENV / "bin" / "gunicorn"),
            "bench._vectortiles_site:application",
            "-w",
            "4",
            "-b",
            f"127.0.0.1:{ports['V']}",
        ]
        vt_paths = {
            name: [path.replace("/tiles/", "/vt/", 1) for path in class_paths]
            for name, class_paths in paths.items()
        }
        result.append(("V", command, environment, vt_paths))
    return result


def tipg_path(path: str, ids: dict[str, int]) -> str:
    """TiPg serves a table: the dataset's own partition, so it reads no other dataset's points
    (through the parent, a dataset filter is a bound parameter: no pruning at plan time)."""
    for slug, dataset_id in ids.items():
        if f"/tiles/{slug}/" in path:
            collection = f"public.groundmotion_measurementpoint_{dataset_id}"
            path = path.replace(
                f"/tiles/{slug}/", f"/collections/{collection}/tiles/WebMercatorQuad/"
            )
            return path.replace(".pbf", "?properties=velocity,temporal_coherence")
    return path
