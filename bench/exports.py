"""Export throughput: our binary-COPY stream against a server-side-cursor baseline.

Usage: .venv/bin/python -m bench exports   (BENCH_EXPORT_POINTS per track, default 200,000)
Both sides read the same access-filtered points and series of one demo track and produce the
same numpy chunks; the baseline is the strongest ordinary alternative: a psycopg server-side
cursor (text protocol, 20,000 rows per fetch) plus series_codec.decode_many. We time the
transfer to numpy alone, then the whole EGMS CSV (same writer on both sides).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._scratch import scratch_database

CHUNK = 20_000


def baseline_chunks(dataset, points):
    """Server-side cursor over the same selection; yields PointChunk like ours."""
    from django.db import connection, transaction

    from groundmotion import series_codec
    from groundmotion.bulk import POINT_FLOAT_COLUMNS
    from groundmotion.exports.stream import PointChunk

    selection, params = points.order_by().values("id").query.sql_with_params()
    columns = ", ".join(f"p.{name}" for name in POINT_FLOAT_COLUMNS)
    sql = (f"SELECT p.id, p.pid, ST_X(p.geom), ST_Y(p.geom), {columns}, s.displacements"
           " FROM groundmotion_measurementpoint p LEFT JOIN groundmotion_pointseries s"
           f" ON s.point_id = p.id WHERE p.id IN ({selection}) ORDER BY p.id")  # fmt: skip
    dates = len(dataset.acquisition_dates)
    connection.ensure_connection()
    with transaction.atomic(), connection.connection.cursor(name="baseline") as cursor:
        cursor.itersize = CHUNK
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK):
            table = list(zip(*rows, strict=True))
            floats = np.array(table[4:-1], dtype=np.float64).astype(np.float32)
            yield PointChunk(
                ids=np.array(table[0], dtype=np.int64), pids=np.array(table[1], dtype=str),
                longitude=np.array(table[2]), latitude=np.array(table[3]),
                attributes=dict(zip(POINT_FLOAT_COLUMNS, floats, strict=True)),
                series=series_codec.decode_many(list(table[-1]), dates),
            )  # fmt: skip


def timed(label: str, function) -> float:
    started = time.perf_counter()
    count = function()
    elapsed = time.perf_counter() - started
    print(f"  {label:<38} {count:>10,} points in {elapsed:6.2f} s ({count / elapsed:>9,.0f}/s)")
    return elapsed


def csv_with(chunks, dataset, path: Path) -> int:
    from groundmotion.exports.columns import chunk_table

    count = 0
    with open(path, "w") as target:
        for chunk in chunks:
            target.write(chunk_table(chunk, dataset).to_csv(index=False, header=count == 0))
            count += len(chunk)
    return count


def compare() -> None:
    from django.contrib.auth.models import AnonymousUser

    from groundmotion import access
    from groundmotion.exports.stream import stream_points
    from groundmotion.exports.writers import Format, write_export
    from groundmotion.models import Dataset

    dataset = Dataset.objects.order_by("slug").first()
    points = access.aggregatable_points(AnonymousUser(), dataset)
    print(f"{dataset.slug}: {dataset.point_count:,} points x {len(dataset.acquisition_dates)} "
          "dates")  # fmt: skip
    ours = timed("ours: binary COPY -> numpy",
                 lambda: sum(len(c) for c in stream_points(points, dataset)))  # fmt: skip
    base = timed("baseline: server-side cursor -> numpy",
                 lambda: sum(len(c) for c in baseline_chunks(dataset, points)))  # fmt: skip
    print(f"  transfer ratio baseline/ours: {base / ours:.2f}x")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        ours = timed("ours: EGMS CSV",
                     lambda: write_export(Format.CSV, points, dataset,
                                          folder / "ours.csv").point_count)  # fmt: skip
        base = timed("baseline: EGMS CSV",
                     lambda: csv_with(baseline_chunks(dataset, points), dataset,
                                      folder / "base.csv"))  # fmt: skip
        print(f"  CSV ratio baseline/ours: {base / ours:.2f}x "
              f"({(folder / 'ours.csv').stat().st_size / 1e6:,.0f} MB)")  # fmt: skip
        timed("ours: GeoPackage",
              lambda: write_export(Format.GPKG, points, dataset,
                                   folder / "ours.gpkg").point_count)  # fmt: skip


def main() -> None:
    points = int(os.environ.get("BENCH_EXPORT_POINTS", "200000"))
    with scratch_database("bench_exports") as run:
        run(["make_demo", "--points", str(points)])
        os.environ["DATABASE_URL"] = run.url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        compare()
