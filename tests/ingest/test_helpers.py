"""Small parts of ingest: the Z-order permutation, the parser process and packed rows."""

from __future__ import annotations

import multiprocessing
import os
import pickle

import numpy as np
import pytest

from groundmotion.ingest.chunk import spatial_order
from groundmotion.ingest.errors import IngestError
from groundmotion.ingest.prefetch import prefetch
from groundmotion.storage import copy_in


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


def test_prefetch_stops_its_process_when_the_consumer_stops_early() -> None:
    def items():
        yield from range(1000)

    for item in prefetch(items(), depth=1):
        if item == 3:
            break
    assert not [p for p in multiprocessing.active_children() if p.name == "ingest-parser"]


def test_prefetch_runs_the_producer_in_another_process() -> None:
    def items():
        yield os.getpid()

    assert list(prefetch(items())) != [os.getpid()]


def test_prefetch_says_so_when_the_producer_dies() -> None:
    def items():
        yield 1
        os._exit(3)

    with pytest.raises(RuntimeError, match="died"):
        list(prefetch(items()))


def test_an_ingest_error_crosses_the_process_boundary_whole() -> None:
    error = pickle.loads(pickle.dumps(IngestError("a.csv", "not a number", line=7, column="x")))
    assert (error.path, error.message, error.line, error.column) == (
        "a.csv",
        "not a number",
        7,
        "x",
    )
    assert str(error) == "a.csv, line 7, column 'x': not a number"


def test_selected_packed_rows_equal_rows_packed_from_the_selection() -> None:
    rng = np.random.default_rng(2)
    n = 50
    pids = np.array([f"P{i}" * (1 + i % 3) for i in range(n)])  # rows of varying width
    lon, lat = rng.uniform(-1, 1, n), rng.uniform(40, 41, n)
    attributes = {"velocity": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 3, n))}
    keep = rng.random(n) < 0.5
    chosen = copy_in.pack_points(pids, lon, lat, attributes).select(keep)
    direct = copy_in.pack_points(
        pids[keep], lon[keep], lat[keep], {"velocity": attributes["velocity"][keep]}
    )
    ids = np.arange(100, 100 + keep.sum())
    assert np.array_equal(chosen.fill(ids, 7), direct.fill(ids, 7))
    series = rng.normal(0, 5, (n, 9)).astype(np.float32)
    order = rng.permutation(n)
    assert np.array_equal(
        copy_in.pack_series(series).select(order).fill(np.arange(n)),
        copy_in.pack_series(series[order]).fill(np.arange(n)),
    )
