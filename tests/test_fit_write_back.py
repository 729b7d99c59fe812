"""`fit` writes parameters back as HOT updates (points table fillfactor 50): no index entries."""

from __future__ import annotations

import numpy as np
from django.db import connection

from groundmotion import bulk
from processing.kernels import velocity
from processing.products import fit
from tests.factories import make_dataset
from tests.test_processing_commands import LONG_DATES, YEARS

POINT_TABLE = "groundmotion_measurementpoint"


def transaction_updates() -> tuple[int, int]:
    """(rows updated, of which HOT) on the points table in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
            [POINT_TABLE],
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (0, 0)


def test_the_points_table_leaves_room_for_a_second_row_version(db) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [POINT_TABLE])
        assert "fillfactor=50" in cursor.fetchone()[0]


def test_a_fit_updates_every_point_in_place(db) -> None:
    # Loaded as ingest loads EGMS files: every parameter column already set, so the new
    # row versions are no wider than the old (a NULL becoming a number would widen them).
    rng = np.random.default_rng(3)
    count = 3000
    series = rng.normal(0, 3, (count, 1)) * YEARS + rng.normal(0, 1, (count, len(YEARS)))
    series = series.astype(np.float32)
    dataset = make_dataset("hot-fit")
    dataset.acquisition_dates = LONG_DATES
    dataset.save(update_fields=["acquisition_dates"])
    ids = bulk.reserve_point_ids(count)
    pids = np.array([f"HOT{i:06d}" for i in range(count)])
    attributes = dict(velocity.fit_series(series + 0.5, YEARS))
    bulk.copy_points(dataset, ids, pids, rng.uniform(-1.1, -1.0, count),
                     rng.uniform(43.7, 43.8, count), attributes)  # fmt: skip
    bulk.copy_series(ids, series)
    updated, hot = transaction_updates()
    fit.fit_dataset(dataset)
    updated_after, hot_after = transaction_updates()
    assert updated_after - updated == count
    assert hot_after - hot == count
