"""A re-fit or re-reference rewrites point velocities; the tile cells, which hold their sums,
must follow, or the map below the point zoom keeps showing the old values."""

from __future__ import annotations

import numpy as np
import pytest
from django.db.models import Avg, Sum

from groundmotion.models import TileCell
from processing.products import fit
from tests.factories import DATES, make_dataset

YEARS = np.array([(d - DATES[0]).days / 365.25 for d in DATES])


def cell_mean_velocity(dataset) -> float:
    """The mean velocity the coarsest cells show (their sums over their counts)."""
    totals = TileCell.objects.filter(dataset=dataset, zoom=0).aggregate(
        velocity=Sum("velocity_sum"), count=Sum("velocity_count")
    )
    return totals["velocity"] / totals["count"]


@pytest.fixture
def stale_dataset(db):
    """Points whose stored velocity (0) is not the trend of their series (2 to 6 mm/yr)."""
    rng = np.random.default_rng(5)
    count = 200
    trend = rng.uniform(2, 6, count)
    series = (trend[:, None] * YEARS).astype(np.float32)
    return make_dataset(
        "stale-cells",
        lon=rng.uniform(-1.1, -1.0, count),
        lat=rng.uniform(43.7, 43.8, count),
        velocity=np.zeros(count),
        series=series,
    )


def test_a_fit_rebuilds_the_cells_from_the_new_velocities(stale_dataset) -> None:
    assert cell_mean_velocity(stale_dataset) == pytest.approx(0.0)
    version = stale_dataset.version
    fit.fit_dataset(stale_dataset)
    stored = stale_dataset.points.aggregate(mean=Avg("velocity"))["mean"]
    assert stored > 1.5  # the fit did change the velocities
    assert cell_mean_velocity(stale_dataset) == pytest.approx(stored, rel=1e-5)
    stale_dataset.refresh_from_db()
    assert stale_dataset.version > version  # cached tiles retire


def test_a_re_reference_rebuilds_the_cells(stale_dataset) -> None:
    fit.fit_dataset(stale_dataset)
    reference = stale_dataset.points.order_by("-velocity").first()
    fit.reference_dataset(stale_dataset, pid=reference.pid)
    stored = stale_dataset.points.aggregate(mean=Avg("velocity"))["mean"]
    assert stored < -0.5  # everything now moves relative to the fastest point
    assert cell_mean_velocity(stale_dataset) == pytest.approx(stored, rel=1e-5)
