"""Least-squares fits a user asks for on the map: a velocity over a chosen period, a model of
their choice (linear, + acceleration, + seasonal, + a step at an event date), displacement
between two dates.

Units: series in mm (NaN where missing), time in years since the dataset's first date,
velocity mm/yr, acceleration mm/yr², seasonal terms and steps mm.

One kernel serves every fit: per series it accumulates the Gram matrix GᵀG, Gᵀy and yᵀy over
the dates that are both selected and present, then solves by Cholesky (velocity.py's solver:
the same numerics as the EGMS fit). A design has a handful of columns, so this is one pass
over each series; tiles run it on thousands of series at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from processing.kernels._numba import parallel_kernel, prange, serial_kernel
from processing.kernels.velocity import DAYS_PER_YEAR, _solve_sub

MODEL_TERMS = ("acceleration", "seasonal")


class LeastSquares(NamedTuple):
    """Per series: coefficients and their stds (NaN where no fit), residual std, dates used."""

    coefficients: np.ndarray
    stds: np.ndarray
    residual_std: np.ndarray
    count: np.ndarray


@serial_kernel
def _accumulate_normal(row, design, use, gram, rhs):
    """GᵀG (lower half), Gᵀy and yᵀy over the selected, present dates; returns (yᵀy, count)."""
    p = design.shape[1]
    yy = 0.0
    used = 0
    for d in range(row.shape[0]):
        value = row[d]
        if not use[d] or np.isnan(value):
            continue
        used += 1
        yy += value * value
        for a in range(p):
            rhs[a] += design[d, a] * value
            for b in range(a + 1):
                gram[a, b] += design[d, a] * design[d, b]
    for a in range(p):
        for b in range(a):
            gram[b, a] = gram[a, b]
    return yy, used


@parallel_kernel
def _least_squares_kernel(series, design, use, coefficients, stds, residual_std, count):
    n = series.shape[0]
    p = design.shape[1]
    columns = np.arange(p)
    for i in prange(n):
        gram = np.zeros((p, p))
        rhs = np.zeros(p)
        yy, used = _accumulate_normal(series[i], design, use, gram, rhs)
        count[i] = used
        if used <= p:
            continue
        factor = np.zeros((p, p))
        solution = np.zeros(p)
        inverse_diagonal = np.zeros(2 * p)
        ssr = _solve_sub(gram, rhs, yy, columns, factor, solution, inverse_diagonal)
        if ssr < 0.0:
            continue
        variance = ssr / (used - p)
        residual_std[i] = np.sqrt(variance)
        for a in range(p):
            coefficients[i, a] = solution[a]
            stds[i, a] = np.sqrt(inverse_diagonal[a] * variance)


def least_squares(
    series: np.ndarray, design: np.ndarray, use: np.ndarray | None = None
) -> LeastSquares:
    """Fit `design` (dates x p) to each row of `series` (n x dates) over the dates `use`
    selects (all when None), leaving out NaN values.

    A row with no more dates than columns, or a singular system, gives NaN coefficients.
    """
    series = np.ascontiguousarray(series)
    if series.ndim != 2:
        raise ValueError("series must be (points, dates)")
    design = np.ascontiguousarray(design, dtype=np.float64)
    n, dates = series.shape
    if design.shape[0] != dates:
        raise ValueError(f"design has {design.shape[0]} dates, series {dates}")
    use = np.ones(dates, dtype=np.bool_) if use is None else np.asarray(use, dtype=np.bool_)
    p = design.shape[1]
    coefficients = np.full((n, p), np.nan)
    stds = np.full((n, p), np.nan)
    residual_std = np.full(n, np.nan)
    count = np.zeros(n, dtype=np.int64)
    if n:
        _least_squares_kernel(series, design, use, coefficients, stds, residual_std, count)
    return LeastSquares(coefficients, stds, residual_std, count)


def years_of(days: np.ndarray) -> np.ndarray:
    """Days since an epoch -> years since the first date (365.25-day years)."""
    days = np.asarray(days, dtype=np.float64)
    return (days - days[0]) / DAYS_PER_YEAR


def period_velocity(
    series: np.ndarray, years: np.ndarray, use: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(velocity mm/yr, its std, dates used) of a straight line over the selected dates.

    The time axis is centred on the selection so that offset and slope are uncorrelated
    (better conditioned; the slope and its std do not depend on the origin).
    """
    years = np.asarray(years, dtype=np.float64)
    selected = years if use is None else years[np.asarray(use, dtype=bool)]
    centre = float(selected.mean()) if selected.size else 0.0
    design = np.column_stack([np.ones_like(years), years - centre])
    fit = least_squares(series, design, use)
    return fit.coefficients[:, 1], fit.stds[:, 1], fit.count


def model_design(
    years: np.ndarray, terms: Sequence[str], step_years: float | None = None
) -> tuple[np.ndarray, list[str]]:
    """Columns of a model: offset and velocity always; t²/2 for "acceleration"; sin and cos of
    2πt for "seasonal"; a Heaviside step (0 before, 1 from step_years on) for a step."""
    unknown = set(terms) - set(MODEL_TERMS)
    if unknown:
        raise ValueError(f"unknown model terms: {', '.join(sorted(unknown))}")
    t = np.asarray(years, dtype=np.float64)
    columns = [np.ones_like(t), t]
    names = ["offset", "velocity"]
    if "acceleration" in terms:
        columns.append(t**2 / 2)
        names.append("acceleration")
    if "seasonal" in terms:
        phase = 2 * np.pi * t
        columns += [np.sin(phase), np.cos(phase)]
        names += ["seasonal_sin", "seasonal_cos"]
    if step_years is not None:
        columns.append((t >= step_years).astype(np.float64))
        names.append("step")
    return np.column_stack(columns), names


def displacement_between(series: np.ndarray, first: int, second: int) -> np.ndarray:
    """Displacement from date index `first` to `second` (mm), NaN where either is missing."""
    series = np.asarray(series, dtype=np.float64)
    return series[:, second] - series[:, first]
