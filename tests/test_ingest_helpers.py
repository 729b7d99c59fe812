"""Small parts of ingest: the Z-order permutation and the parser thread."""

from __future__ import annotations

import numpy as np
import pytest

from groundmotion.ingest.chunk import spatial_order
from groundmotion.ingest.prefetch import prefetch


def test_spatial_order_is_a_permutation_that_groups_neighbours() -> None:
    rng = np.random.default_rng(4)
    lon, lat = rng.uniform(0, 1, 4000), rng.uniform(0, 1, 4000)
    order = spatial_order(lon, lat)
    assert np.array_equal(np.sort(order), np.arange(4000))
    steps = np.hypot(np.diff(lon[order]), np.diff(lat[order]))
    random_steps = np.hypot(np.diff(lon), np.diff(lat))
    assert np.median(steps) < np.median(random_steps) / 10


def test_prefetch_yields_everything_in_order() -> None:
    assert list(prefetch(iter(range(100)), depth=2)) == list(range(100))


def test_prefetch_re_raises_the_producers_error_after_the_items_before_it() -> None:
    def items():
        yield 1
        yield 2
        raise ValueError("line 3 is bad")

    seen = []
    with pytest.raises(ValueError, match="line 3 is bad"):
        for item in prefetch(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_prefetch_stops_its_thread_when_the_consumer_stops_early() -> None:
    produced = []

    def items():
        for i in range(1000):
            produced.append(i)
            yield i

    for item in prefetch(items(), depth=1):
        if item == 3:
            break
    assert len(produced) < 10
