"""CSV block parsing alone: our numba parser against the pandas C parser, same blocks.

Usage: .venv/bin/python -m bench ingest_parse   (uses var/bench/'s 100,000-point EGMS CSV,
written by bench/ingest.py with BENCH_INGEST_POINTS=100000 if absent)
Both read every numeric column as float64 and the pid as text; the values must be equal.
"""

from __future__ import annotations

import io
import os
import time

import django
import numpy as np
import pandas as pd

BLOCK_BYTES = 8 * 1024 * 1024


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from bench.ingest import write_files
    from groundmotion.ingest import fastcsv

    path, _ = write_files(100_000)
    with path.open("rb") as stream:
        width = len(stream.readline().split(b","))
        data = stream.read()
    blocks, start = [], 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + BLOCK_BYTES) + 1 or len(data)
        blocks.append(data[start:end])
        start = end
    targets = np.arange(width, dtype=np.int64) - 1
    targets[0] = fastcsv.TEXT
    fastcsv.parse(blocks[0][:10_000], ",", targets, width - 1)  # compile or load the cache
    dtypes = {0: object} | dict.fromkeys(range(1, width), np.float64)
    timings = {"numba": 0.0, "pandas": 0.0}
    for block in blocks:
        started = time.perf_counter()
        ours = fastcsv.parse(block, ",", targets, width - 1)[0]
        timings["numba"] += time.perf_counter() - started
        started = time.perf_counter()
        frame = pd.read_csv(io.BytesIO(block), header=None, dtype=dtypes, engine="c")
        timings["pandas"] += time.perf_counter() - started
        assert np.array_equal(ours, frame.iloc[:, 1:].to_numpy(), equal_nan=True)
    megabytes = len(data) / 1e6
    for name, seconds in timings.items():
        print(
            f"{name:7s} {megabytes / seconds:6.0f} MB/s  ({seconds:.2f} s for {megabytes:.0f} MB)"
        )
    print(f"numba/pandas speed ratio {timings['pandas'] / timings['numba']:.2f} (values equal)")
