"""MintPy's own velocity fit, run by a Python that has MintPy (see bench/processing.py).

Usage: python bench/_mintpy_fit.py SERIES.npy YEARS.npy OUT.npy
Times mintpy.utils.time_func.estimate_time_func (the fit behind `timeseries2velocity`:
one design matrix, scipy.linalg.lstsq for all pixels of a block) on the same series as our
kernel, in blocks of 100,000 pixels, and writes the velocities for comparison.
Prints "points seconds".
"""

from __future__ import annotations

import datetime
import sys
import time

import numpy as np
from mintpy.utils import time_func

BLOCK = 100_000


def main() -> None:
    series = np.load(sys.argv[1], mmap_mode="r")
    years = np.load(sys.argv[2])
    first = datetime.date(2020, 1, 1)
    dates = [(first + datetime.timedelta(days=round(y * 365.25))).strftime("%Y%m%d") for y in years]
    model = {"polynomial": 1, "periodic": [1.0]}
    velocity = np.empty(len(series), dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, len(series), BLOCK):
        block = np.asarray(series[start : start + BLOCK], dtype=np.float32).T
        _, parameters, _ = time_func.estimate_time_func(model, dates, block, ref_date=dates[0])
        velocity[start : start + BLOCK] = parameters[1]
    elapsed = time.perf_counter() - started
    np.save(sys.argv[3], velocity)
    print(len(series), elapsed)


if __name__ == "__main__":
    main()
