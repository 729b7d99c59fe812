"""make_demo at scale: load time and database size per point (series included).

Usage: .venv/bin/python -m bench demo_load
(BENCH_DEMO_POINTS, default 1,000,000 per track; BENCH_DEMO_YEARS, default 3.36: 200 dates)
It loads into a scratch database (bench_demo) so the demo database is left alone.
"""

from __future__ import annotations

import os
import time

from bench._scratch import scratch_database


def main() -> None:
    points = int(os.environ.get("BENCH_DEMO_POINTS", "1000000"))
    years = os.environ.get("BENCH_DEMO_YEARS", "3.36")  # 3.36 years of 6-day dates: 200 dates
    with scratch_database("bench_demo") as run:
        started = time.perf_counter()
        run(["make_demo", "--points", str(points), "--years", years])
        elapsed = time.perf_counter() - started
        sizes = run.sql(
            "SELECT (SELECT sum(pg_total_relation_size(relid))"
            "        FROM pg_partition_tree('groundmotion_measurementpoint')),"
            " pg_total_relation_size('groundmotion_pointseries'),"
            " (SELECT count(*) FROM groundmotion_measurementpoint),"
            " (SELECT cardinality(acquisition_dates) FROM groundmotion_dataset LIMIT 1)"
        )
    point_bytes, series_bytes, count, dates = sizes
    per_point = (point_bytes + series_bytes) / count
    print(
        f"make_demo --points {points:,}: {count:,} points in {elapsed:.1f} s "
        f"({count / elapsed:,.0f} points/s, both tracks, GNSS and analyse included)"
    )
    print(
        f"points table {point_bytes / count:.0f} B/point, series {series_bytes / count:.0f} "
        f"B/point at {dates} dates; total {per_point:.0f} B/point "
        f"(target at 200 dates: <= 1100 B)"
    )
