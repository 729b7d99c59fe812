"""Export throughput: the EGMS CSV writer against pandas and against PostgreSQL's own CSV.

Usage: .venv/bin/python -m bench exports
(BENCH_EXPORT_POINTS per demo track, default 200,000; BENCH_EXPORT_YEARS, default 3.36 = 200
dates.) One run, the same access-filtered points and series of one demo track on every side:
- ours: write_export(csv): binary COPY -> numpy chunks -> numba row formatter (csvtext.py);
- pandas (the first version's writer): the same numpy chunks -> DataFrame -> to_csv;
- floor: psql-style `COPY (SELECT the same rows) TO STDOUT (FORMAT csv)` to a file: the
  server formats and sends text, with series left as bytea hex (no decoding at all), so no
  exporter of these rows can beat it by much.
Also the formatter alone (CSV text from chunks already in memory) and the transfer alone.

Then the asynchronous download (issue 12), on a second make_demo of BENCH_ASYNC_POINTS per
track (default 1,000,000; 0 skips it), one track set to L2b: the whole journey of
`GET /api/downloads/<slug>/?output=csv|gpkg&bbox=...` with an API token (Django's test client,
in this process) answering 202, the job run by a real `celery -A config worker --pool=prefork
--concurrency=1` on a private redis-server (bench/_worker.py), polled on
/api/downloads/jobs/<id>/ every 0.2 s until it succeeds; then the file is fetched. Floors of
the same rows in the same run: `psql -c "COPY (...) TO STDOUT WITH (FORMAT csv, HEADER)"` to a
file (series as PostgreSQL prints bytea) and `ogr2ogr -f GPKG ... PG:... -sql "SELECT ...
geom"`. The pool child's VmRSS is sampled every 0.2 s during each job; every output's row count
must equal the dataset's point count.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

from bench._scratch import scratch_database


def report(label: str, count: int, seconds: float) -> None:
    print(
        f"  {label:<44} {count:>9,} points in {seconds:6.2f} s ({count / seconds:>9,.0f}/s)",
        flush=True,
    )


def timed(label: str, function) -> float:
    started = time.perf_counter()
    count = function()
    elapsed = time.perf_counter() - started
    report(label, count, elapsed)
    return elapsed


def pandas_csv(points, dataset, path: Path) -> int:
    """The first version's writer: the same chunks formatted by pandas."""
    from groundmotion.exports.columns import chunk_table
    from groundmotion.exports.stream import stream_points

    count = 0
    with open(path, "w") as target:
        for chunk in stream_points(points, dataset):
            text = chunk_table(chunk, dataset).to_csv(
                index=False, header=count == 0, lineterminator="\n"
            )
            target.write(text)
            count += len(chunk)
    return count


def floor_csv(points, path: Path) -> int:
    """PostgreSQL's COPY TO (FORMAT csv) of the same rows, written to a file."""
    from django.db import connection

    from groundmotion.storage.tables import POINT_FLOAT_COLUMNS, SERIES_TABLE

    selection, params = points.order_by().values("id").query.sql_with_params()
    columns = ", ".join(f"p.{name}" for name in POINT_FLOAT_COLUMNS)
    sql = (
        f"COPY (SELECT p.pid, ST_Y(p.geom), ST_X(p.geom), {columns}, s.displacements"
        f" FROM groundmotion_measurementpoint p LEFT JOIN {SERIES_TABLE} s"
        f" ON s.point_id = p.id WHERE p.id IN ({selection}) ORDER BY p.id)"
        " TO STDOUT (FORMAT csv, HEADER)"
    )
    with (
        open(path, "wb") as target,
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(sql, params) as copy,
    ):
        for block in copy:
            target.write(block)
    return points.count()


def formatter_only(points, dataset) -> tuple[int, float]:
    """(points, seconds) of the numba formatter alone, on chunks already in memory."""
    from groundmotion.exports.columns import static_block
    from groundmotion.exports.csvtext import format_rows
    from groundmotion.exports.stream import stream_points

    chunks = list(stream_points(points, dataset))
    started = time.perf_counter()
    for chunk in chunks:
        block = static_block(chunk, dataset)
        format_rows(chunk.pid_bytes, block.values, block.decimals, block.least, chunk.series)
    return sum(len(chunk) for chunk in chunks), time.perf_counter() - started


def compare() -> None:
    from django.contrib.auth.models import AnonymousUser

    from groundmotion import access
    from groundmotion.exports.stream import stream_points
    from groundmotion.exports.writers import Format, write_export
    from groundmotion.models import Dataset

    dataset = Dataset.objects.order_by("slug").first()
    points = access.aggregatable_points(AnonymousUser(), dataset)
    print(
        f"{dataset.slug}: {dataset.point_count:,} points x {len(dataset.acquisition_dates)} dates"
    )
    formatter_only(points.filter(pk__in=points.values("pk")[:1000]), dataset)  # numba warm-up
    timed(
        "transfer: binary COPY -> numpy",
        lambda: sum(len(c) for c in stream_points(points, dataset)),
    )
    count, seconds = formatter_only(points, dataset)
    print(
        f"  {'formatter alone (numba, chunks in memory)':<44} {count:>9,} points in "
        f"{seconds:6.2f} s ({count / seconds:>9,.0f}/s)"
    )
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        ours = timed(
            "ours: EGMS CSV (write_export)",
            lambda: write_export(Format.CSV, points, dataset, folder / "ours.csv").point_count,
        )
        floor = timed(
            "floor: COPY TO STDOUT (FORMAT csv)", lambda: floor_csv(points, folder / "floor.csv")
        )
        slow = timed(
            "pandas: same chunks, DataFrame.to_csv",
            lambda: pandas_csv(points, dataset, folder / "pandas.csv"),
        )
        size = (folder / "ours.csv").stat().st_size / 1e6
        print(
            f"  ours/floor speed: {floor / ours:.2f}x; ours/pandas speed: {slow / ours:.1f}x "
            f"(ours {size:,.0f} MB, floor {(folder / 'floor.csv').stat().st_size / 1e6:,.0f}"
            " MB)"
        )


ASYNC_POLL_S = 0.2
ASYNC_FORMATS = (("csv", "CSV"), ("gpkg", "GeoPackage"))


def rows_sql(points, with_geom: bool = False) -> str:
    """The floors' SELECT of the exported rows (pid, lat, lon, the point floats, the stored
    series as bytea), every parameter inlined for psql and ogr2ogr."""
    import psycopg
    from django.db import connection

    from groundmotion.storage.tables import POINT_FLOAT_COLUMNS, POINT_TABLE, SERIES_TABLE

    selection, params = points.order_by().values("id").query.sql_with_params()
    columns = ", ".join(f"p.{name}" for name in POINT_FLOAT_COLUMNS)
    geom = ", p.geom" if with_geom else ""
    sql = (
        f"SELECT p.pid, ST_Y(p.geom) AS latitude, ST_X(p.geom) AS longitude, {columns},"
        f" s.displacements{geom} FROM {POINT_TABLE} p LEFT JOIN {SERIES_TABLE} s"
        f" ON s.point_id = p.id WHERE p.id IN ({selection}) ORDER BY p.id"
    )
    with connection.cursor() as cursor:
        return psycopg.ClientCursor(cursor.connection).mogrify(sql, params)


def database_parts(url: str) -> dict:
    import dj_database_url

    config = dj_database_url.parse(url)
    return {
        "host": config["HOST"],
        "port": str(config["PORT"]),
        "dbname": config["NAME"],
        "user": config["USER"],
        "password": config.get("PASSWORD") or "",
    }


def psql_csv(url: str, sql: str, path: Path) -> None:
    """The CSV floor: psql's COPY ... TO STDOUT WITH CSV of the rows, into a file."""
    import subprocess

    parts = database_parts(url)
    env = {**os.environ, "PGPASSWORD": parts["password"]} if parts["password"] else None
    with open(path, "wb") as target:
        subprocess.run(
            [
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                parts["host"],
                "-p",
                parts["port"],
                "-U",
                parts["user"],
                "-d",
                parts["dbname"],
                "-c",
                f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)",
            ],
            stdout=target,
            check=True,
            env=env,
        )


def ogr2ogr_gpkg(url: str, sql: str, path: Path, layer: str) -> None:
    """The GeoPackage floor: GDAL's ogr2ogr from PostGIS, the same rows with their geometry."""
    import subprocess

    parts = database_parts(url)
    source = " ".join(f"{key}={value}" for key, value in parts.items() if value)
    subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(path), f"PG:{source}", "-sql", sql, "-nln", layer], check=True
    )


def csv_rows_in(path: Path) -> int:
    """Data lines of a CSV file with a header."""
    lines = 0
    with open(path, "rb") as source:
        while block := source.read(1 << 24):
            lines += block.count(b"\n")
    return lines - 1


def gpkg_rows_in(path: Path, layer: str) -> int:
    import pyogrio

    return int(pyogrio.read_info(path, layer=layer)["features"])


@contextlib.contextmanager
def tasks_sent_to(broker_url: str):
    """Export jobs queued by the view go to this broker (whatever the settings loaded)."""
    from unittest import mock

    from config.celery import app
    from downloads.tasks import run_export_task

    def delay(*args: object) -> None:
        with app.connection_for_write(broker_url) as broker:
            run_export_task.apply_async(args, connection=broker)

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with mock.patch.object(run_export_task, "delay", delay):
            yield
    finally:
        app.conf.task_always_eager = eager


@contextlib.contextmanager
def overridden(mapping: dict, **values: object):
    saved = {key: mapping[key] for key in values}
    mapping.update(values)
    try:
        yield
    finally:
        mapping.update(saved)


def async_download(client, headers: dict, url: str, worker, target: Path) -> dict:
    """Request, poll until the job succeeds, fetch the file; seconds and the worker's RSS."""
    from bench._worker import RssSampler
    from groundmotion.models import ProcessingJob

    with RssSampler(worker.pid, ASYNC_POLL_S) as memory:
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        answered = time.perf_counter() - started
        assert response.status_code == 202, (response.status_code, response.content[:500])
        status_url = response.json()["status_url"]
        while True:
            summary = client.get(status_url, headers=headers).json()
            if summary["state"] in ("succeeded", "failed"):
                break
            if not worker.alive():
                raise RuntimeError("the worker died")
            time.sleep(ASYNC_POLL_S)
        seconds = time.perf_counter() - started
    assert summary["state"] == "succeeded", summary
    job = ProcessingJob.objects.get(pk=summary["id"])
    fetch_started = time.perf_counter()
    response = client.get(summary["file"], headers=headers)
    assert response.status_code == 200, response.status_code
    with open(target, "wb") as output:
        for block in response.streaming_content:
            output.write(block)
    response.close()
    return {
        "seconds": seconds,
        "fetch": time.perf_counter() - fetch_started,
        "rss_start": memory.start,
        "rss_peak": memory.peak,
        "rss_end": memory.end,
        "samples": len(memory.samples),
        "written": summary["points_written"],
        "answered": answered,
        "queued": (job.started_at - job.created_at).total_seconds(),
        "ran": (job.finished_at - job.started_at).total_seconds(),
    }


def prepare_async_dataset(run, points: int, years: str):
    """One make_demo track of `points` points, made L2b."""
    from groundmotion.models import Dataset

    run(["make_demo", "--points", str(points), "--years", years])
    dataset = Dataset.objects.order_by("slug").first()
    Dataset.objects.filter(pk=dataset.pk).update(level="l2b")
    dataset.refresh_from_db()
    return dataset


def area_of(dataset) -> str:
    """A bbox holding every point of the dataset, with a margin."""
    from django.contrib.gis.db.models import Extent

    from groundmotion.models import MeasurementPoint

    west, south, east, north = MeasurementPoint.objects.filter(dataset=dataset).aggregate(
        extent=Extent("geom")
    )["extent"]
    margin = 0.001
    return f"{west - margin:.6f},{south - margin:.6f},{east + margin:.6f},{north + margin:.6f}"


def compare_async(run, points: int, years: str) -> None:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    from accounts.tokens import create_token
    from bench._worker import celery_worker, environment, private_redis

    dataset = prepare_async_dataset(run, points, years)
    bbox = area_of(dataset)
    limits = {
        "DOWNLOAD_MAX_AREA_KM2": 10_000_000,
        "DOWNLOAD_MAX_POINTS": max(5_000_000, 2 * dataset.point_count),
        "DOWNLOAD_SYNC_POINTS": min(
            settings.GROUNDMOTION["DOWNLOAD_SYNC_POINTS"], dataset.point_count - 1
        ),
        "DOWNLOAD_DAILY_POINTS": max(20_000_000, 10 * dataset.point_count),
    }
    user = User.objects.create_user("bench-async", password=None)
    _, token = create_token(user, "bench")
    headers = {"Authorization": f"Token {token}"}
    print(
        f"{dataset.slug} (level set to {dataset.level}): {dataset.point_count:,} points x "
        f"{len(dataset.acquisition_dates)} dates; async download through a celery worker "
        f"(prefork, concurrency 1), 202 above {limits['DOWNLOAD_SYNC_POINTS']:,} points",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-async-") as directory,
        private_redis() as broker_url,
        overridden(settings.GROUNDMOTION, **limits),
    ):
        folder = Path(directory)
        media = folder / "media"
        env = environment(
            DATABASE_URL=run.url,
            CELERY_BROKER_URL=broker_url,
            MEDIA_ROOT=str(media),
            **{f"GROUNDMOTION_{key}": str(value) for key, value in limits.items()},
        )
        saved_media = settings.MEDIA_ROOT
        settings.MEDIA_ROOT = media
        try:
            with celery_worker(env, folder / "worker.log") as worker, tasks_sent_to(broker_url):
                results = run_async(Client(), headers, user, dataset, bbox, worker, folder, run.url)
        finally:
            settings.MEDIA_ROOT = saved_media
    print_async(results, dataset.point_count)


def run_async(client, headers, user, dataset, bbox, worker, folder: Path, url: str) -> dict:
    from downloads import service

    expected = dataset.point_count
    results: dict = {}
    for output, name in ASYNC_FORMATS:
        api = f"/api/downloads/{dataset.slug}/?output={output}&bbox={bbox}"
        ours = folder / f"ours.{output}"
        result = async_download(client, headers, api, worker, ours)
        report(f"async {name} download (worker)", expected, result["seconds"])
        print(
            f"      202 in {result['answered']:.2f} s, queued {result['queued']:.2f} s, ran "
            f"{result['ran']:.2f} s in the worker; file fetched in {result['fetch']:.2f} s; "
            f"pool child RSS {result['rss_start'] / 2**20:,.0f} MB at the start, peak "
            f"{result['rss_peak'] / 2**20:,.0f} MB, end {result['rss_end'] / 2**20:,.0f} MB "
            f"({result['samples']} samples)",
            flush=True,
        )
        points = service.plan_download(user, dataset.slug, output, bbox, None).points
        floor = folder / f"floor.{output}"
        started = time.perf_counter()
        if output == "csv":
            psql_csv(url, rows_sql(points), floor)
        else:
            ogr2ogr_gpkg(url, rows_sql(points, with_geom=True), floor, dataset.slug)
        result["floor"] = time.perf_counter() - started
        label = (
            "floor: psql COPY TO STDOUT WITH CSV"
            if output == "csv"
            else "floor: ogr2ogr PG -> GPKG"
        )
        report(label, expected, result["floor"])
        if output == "csv":
            counts = {"ours": csv_rows_in(ours), "floor": csv_rows_in(floor)}
        else:
            counts = {
                "ours": gpkg_rows_in(ours, dataset.slug),
                "floor": gpkg_rows_in(floor, dataset.slug),
            }
        counts["job"] = result["written"]
        assert all(count == expected for count in counts.values()), (output, counts, expected)
        result["sizes"] = (ours.stat().st_size, floor.stat().st_size)
        ours.unlink()
        floor.unlink()
        results[output] = result
    return results


def print_async(results: dict, expected: int) -> None:
    csv, gpkg = results["csv"], results["gpkg"]
    print(f"  rows: {expected:,} in each of the four files and in both jobs' points_written")
    sizes = [size / 1e6 for size in (*csv["sizes"], *gpkg["sizes"])]
    print(
        f"  file sizes: CSV ours {sizes[0]:,.0f} MB, psql {sizes[1]:,.0f} MB; GeoPackage ours "
        f"{sizes[2]:,.0f} MB, ogr2ogr {sizes[3]:,.0f} MB"
    )
    print(
        f"  worker child RSS: CSV {csv['rss_start'] / 2**20:,.0f} MB at the start, peak "
        f"{csv['rss_peak'] / 2**20:,.0f} MB; GeoPackage {gpkg['rss_start'] / 2**20:,.0f} MB at"
        f" the start, peak {gpkg['rss_peak'] / 2**20:,.0f} MB"
    )
    print(
        f"  CSV: ours / psql floor throughput = {csv['floor'] / csv['seconds']:.2f} (target >= 0.5)"
    )
    print(
        f"  GeoPackage: ours / ogr2ogr throughput = {gpkg['floor'] / gpkg['seconds']:.2f} "
        "(target >= 1.0)",
        flush=True,
    )


def main() -> None:
    points = int(os.environ.get("BENCH_EXPORT_POINTS", "200000"))
    years = os.environ.get("BENCH_EXPORT_YEARS", "3.36")
    async_points = int(os.environ.get("BENCH_ASYNC_POINTS", "1000000"))
    with scratch_database("bench_exports") as run:
        run(["make_demo", "--points", str(points), "--years", years])
        os.environ["DATABASE_URL"] = run.url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        compare()
        if async_points > 0:
            compare_async(run, async_points, years)
