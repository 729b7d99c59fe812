"""Two-year datasets for the processing tests: series that are a rate times the years."""

from __future__ import annotations

import datetime

import numpy as np

from groundmotion.models import Dataset
from groundmotion.storage import copy_in
from tests.factories import make_dataset

# Two years: over shorter spans the seasonal terms mimic a trend and amplify the 0.1 mm
# storage quantisation into the velocity.
LONG_DATES = [datetime.date(2021, 1, 1) + datetime.timedelta(days=12 * i) for i in range(61)]
YEARS = np.array([(d - LONG_DATES[0]).days / 365.25 for d in LONG_DATES])


def long_dataset(
    slug: str,
    lon: np.ndarray,
    lat: np.ndarray,
    rates: np.ndarray,
    direction: str = "ascending",
    los: tuple = (np.nan,) * 3,
) -> Dataset:
    """A two-year dataset whose series are rate x years (mm), with the given LOS vector."""
    dataset = make_dataset(slug, pass_direction=direction, level="l2b")
    dataset.acquisition_dates = LONG_DATES
    dataset.save(update_fields=["acquisition_dates"])
    count = len(lon)
    ids = copy_in.reserve_point_ids(count, dataset.pk)
    pids = np.array([f"{slug[:4].upper()}{i:06d}" for i in range(count)])
    names = ("los_east", "los_north", "los_up")
    attributes = {
        name: np.full(count, value, dtype=np.float32)
        for name, value in zip(names, los, strict=True)
    }
    attributes["velocity"] = np.asarray(rates, dtype=np.float32)
    copy_in.copy_points(dataset, ids, pids, lon, lat, attributes)
    copy_in.copy_series(ids, (np.asarray(rates)[:, None] * YEARS).astype(np.float32))
    copy_in.refresh_summary(dataset)
    return dataset
