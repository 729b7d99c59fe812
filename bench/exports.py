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
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench._scratch import scratch_database


def timed(label: str, function) -> float:
    started = time.perf_counter()
    count = function()
    elapsed = time.perf_counter() - started
    print(f"  {label:<44} {count:>9,} points in {elapsed:6.2f} s ({count / elapsed:>9,.0f}/s)",
          flush=True)  # fmt: skip
    return elapsed


def pandas_csv(points, dataset, path: Path) -> int:
    """The first version's writer: the same chunks formatted by pandas."""
    from groundmotion.exports.columns import chunk_table
    from groundmotion.exports.stream import stream_points

    count = 0
    with open(path, "w") as target:
        for chunk in stream_points(points, dataset):
            text = chunk_table(chunk, dataset).to_csv(index=False, header=count == 0,
                                                      lineterminator="\n")  # fmt: skip
            target.write(text)
            count += len(chunk)
    return count


def floor_csv(points, path: Path) -> int:
    """PostgreSQL's COPY TO (FORMAT csv) of the same rows, written to a file."""
    from django.db import connection

    from groundmotion.bulk import POINT_FLOAT_COLUMNS, SERIES_TABLE

    selection, params = points.order_by().values("id").query.sql_with_params()
    columns = ", ".join(f"p.{name}" for name in POINT_FLOAT_COLUMNS)
    sql = (f"COPY (SELECT p.pid, ST_Y(p.geom), ST_X(p.geom), {columns}, s.displacements"
           f" FROM groundmotion_measurementpoint p LEFT JOIN {SERIES_TABLE} s"
           f" ON s.point_id = p.id WHERE p.id IN ({selection}) ORDER BY p.id)"
           " TO STDOUT (FORMAT csv, HEADER)")  # fmt: skip
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
    print(f"{dataset.slug}: {dataset.point_count:,} points x {len(dataset.acquisition_dates)} "
          "dates")  # fmt: skip
    formatter_only(points.filter(pk__in=points.values("pk")[:1000]), dataset)  # numba warm-up
    timed("transfer: binary COPY -> numpy",
          lambda: sum(len(c) for c in stream_points(points, dataset)))  # fmt: skip
    count, seconds = formatter_only(points, dataset)
    print(f"  {'formatter alone (numba, chunks in memory)':<44} {count:>9,} points in "
          f"{seconds:6.2f} s ({count / seconds:>9,.0f}/s)")  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        ours = timed("ours: EGMS CSV (write_export)",
                     lambda: write_export(Format.CSV, points, dataset,
                                          folder / "ours.csv").point_count)  # fmt: skip
        floor = timed("floor: COPY TO STDOUT (FORMAT csv)",
                      lambda: floor_csv(points, folder / "floor.csv"))  # fmt: skip
        slow = timed("pandas: same chunks, DataFrame.to_csv",
                     lambda: pandas_csv(points, dataset, folder / "pandas.csv"))  # fmt: skip
        size = (folder / "ours.csv").stat().st_size / 1e6
        print(f"  ours/floor speed: {floor / ours:.2f}x; ours/pandas speed: {slow / ours:.1f}x "
              f"(ours {size:,.0f} MB, floor {(folder / 'floor.csv').stat().st_size / 1e6:,.0f}"
              " MB)")  # fmt: skip


def main() -> None:
    points = int(os.environ.get("BENCH_EXPORT_POINTS", "200000"))
    years = os.environ.get("BENCH_EXPORT_YEARS", "3.36")
    with scratch_database("bench_exports") as run:
        run(["make_demo", "--points", str(points), "--years", years])
        os.environ["DATABASE_URL"] = run.url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        compare()
