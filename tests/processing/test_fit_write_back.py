"""`fit` writes the fitted parameters back onto every point of the dataset, and only there."""

from __future__ import annotations

import numpy as np
from django.db import connection

from groundmotion.models import MeasurementPoint
from groundmotion.storage import copy_in
from processing.products import fit
from tests.factories import make_dataset
from tests.processing.long_series import LONG_DATES, YEARS

POINT_TABLE = "groundmotion_measurementpoint"


def transaction_updates() -> tuple[int, int]:
    """(rows updated, of which HOT) on the points table's partitions in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n_tup_upd), 0), coalesce(sum(n_tup_hot_upd), 0)"
            " FROM pg_stat_xact_user_tables"
            " WHERE relid IN (SELECT relid FROM pg_partition_tree(%s))",
            [POINT_TABLE],
        )
        row = cursor.fetchone()
    return int(row[0]), int(row[1])


def test_a_fit_updates_every_point_once_with_the_fit_of_its_series(db) -> None:
    rng = np.random.default_rng(3)
    count = 3000
    series = rng.normal(0, 3, (count, 1)) * YEARS + rng.normal(0, 1, (count, len(YEARS)))
    series = series.astype(np.float32)
    dataset = make_dataset("hot-fit")
    dataset.acquisition_dates = LONG_DATES
    dataset.save(update_fields=["acquisition_dates"])
    ids = copy_in.reserve_point_ids(count, dataset.pk)
    pids = np.array([f"HOT{i:06d}" for i in range(count)])
    attributes = {"velocity": np.zeros(count)}
    copy_in.copy_points(
        dataset,
        ids,
        pids,
        rng.uniform(-1.1, -1.0, count),
        rng.uniform(43.7, 43.8, count),
        attributes,
    )
    copy_in.copy_series(ids, series)
    make_dataset("bystander", lon=[-1.05], lat=[43.75], velocity=[7.0])
    updated, _ = transaction_updates()
    fit.fit_dataset(dataset)
    updated_after, _ = transaction_updates()
    assert updated_after - updated == count
    stored = dict(dataset.points.values_list("pid", "velocity"))
    # Independent: least squares on [t, 1, cos, sin] of the stored (0.1 mm) series.
    design = np.column_stack(
        [YEARS, np.ones_like(YEARS), np.cos(2 * np.pi * YEARS), np.sin(2 * np.pi * YEARS)]
    )
    quantised = np.round(series.astype(np.float64) * 10) / 10
    expected = np.linalg.lstsq(design, quantised.T, rcond=None)[0][0]
    np.testing.assert_allclose([stored[pid] for pid in pids], expected, atol=1e-3)
    assert MeasurementPoint.objects.get(pid="BYST000000").velocity == 7.0
