"""Per-point time-series fit as EGMS defines it (EGMS-FORMAT.md, ATBD).

Units: series in mm, time in years since the first date, velocity mm/yr, acceleration
mm/yr², seasonality mm. Positive displacement is towards the satellite (LOS) or up/east (L3).

- mean velocity: coefficient of t in the [t, 1, cos 2πt, sin 2πt] fit;
- acceleration: coefficient of t²/2 in the [t²/2, t, 1, cos, sin] fit;
- seasonality and RMSE: from the cubic + seasonal fit [t³, t², t, 1, cos, sin];
- standard deviations: sqrt(diag((GᵀG)⁻¹)) times the residual std sqrt(SSR / (n - p));
- temporal coherence: |mean(exp(j·4π/λ·r))| of the residuals r of the linear model.

One pass per point accumulates Gᵀy and yᵀy against the six basis columns; the three designs
are sub-blocks of the one 6 x 6 Gram matrix (t²/2 only rescales the t² coefficient). Complete
series share the Gram matrix; gappy ones (NaN dates) accumulate their own.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from processing.kernels._numba import parallel_kernel, prange, serial_kernel

DAYS_PER_YEAR = 365.25
SENTINEL1_WAVELENGTH_MM = 55.465763
BLOCK = 256

# Basis column order: t³, t², t, 1, cos 2πt, sin 2πt.
LINEAR_COLUMNS = np.array([2, 3, 4, 5], dtype=np.int64)
QUADRATIC_COLUMNS = np.array([1, 2, 3, 4, 5], dtype=np.int64)
CUBIC_COLUMNS = np.array([0, 1, 2, 3, 4, 5], dtype=np.int64)
OUTPUT_NAMES = (
    "velocity",
    "velocity_std",
    "acceleration",
    "acceleration_std",
    "seasonality",
    "seasonality_std",
    "rmse",
    "temporal_coherence",
)


class FitResult(TypedDict):
    velocity: np.ndarray
    velocity_std: np.ndarray
    acceleration: np.ndarray
    acceleration_std: np.ndarray
    seasonality: np.ndarray
    seasonality_std: np.ndarray
    rmse: np.ndarray
    temporal_coherence: np.ndarray


def years_since_first(days: np.ndarray) -> np.ndarray:
    """Days since an epoch (any) -> years since the first date (float64)."""
    days = np.asarray(days, dtype=np.float64)
    return (days - days[0]) / DAYS_PER_YEAR


def basis(years: np.ndarray) -> np.ndarray:
    """The six basis columns (dates x 6, float64) for times in years."""
    t = np.asarray(years, dtype=np.float64)
    phase = 2 * np.pi * t
    return np.ascontiguousarray(
        np.column_stack([t**3, t**2, t, np.ones_like(t), np.cos(phase), np.sin(phase)])
    )


@serial_kernel
def _cholesky(gram, columns, factor):
    """Lower factor of the sub-matrix on `columns`; False when (numerically) singular."""
    p = columns.shape[0]
    for i in range(p):
        for j in range(i + 1):
            total = gram[columns[i], columns[j]]
            for k in range(j):
                total -= factor[i, k] * factor[j, k]
            if i != j:
                factor[i, j] = total / factor[j, j]
            elif total <= 1e-12 * gram[columns[i], columns[i]] or total <= 0.0:
                return False
            else:
                factor[i, i] = np.sqrt(total)
    return True


@serial_kernel
def _inverse_diagonal(factor, p, inverse_diagonal):
    """diag((LLᵀ)⁻¹)_c = |L⁻¹ e_c|²: solve L x = e_c for each column c (x kept at p..2p)."""
    for column in range(p):
        norm = 0.0
        for i in range(column, p):
            total = 1.0 if i == column else 0.0
            for k in range(column, i):
                total -= factor[i, k] * inverse_diagonal[p + k]
            value = total / factor[i, i]
            inverse_diagonal[p + i] = value
            norm += value * value
        inverse_diagonal[column] = norm


@serial_kernel
def _solve_sub(gram, rhs, yy, columns, factor, coefficients, inverse_diagonal):
    """Cholesky solve of the sub-system on `columns`; returns SSR (mm²), or -1 if singular."""
    p = columns.shape[0]
    if not _cholesky(gram, columns, factor):
        return -1.0
    # Forward substitution: z = L⁻¹ Gᵀy, and |z|² is the explained sum of squares.
    explained = 0.0
    for i in range(p):
        total = rhs[columns[i]]
        for k in range(i):
            total -= factor[i, k] * coefficients[k]
        coefficients[i] = total / factor[i, i]
        explained += coefficients[i] * coefficients[i]
    for i in range(p - 1, -1, -1):
        total = coefficients[i]
        for k in range(i + 1, p):
            total -= factor[k, i] * coefficients[k]
        coefficients[i] = total / factor[i, i]
    _inverse_diagonal(factor, p, inverse_diagonal)
    return max(yy - explained, 0.0)


@serial_kernel
def _accumulate(row, design, rhs):
    """Gᵀy, yᵀy and the count of finite dates."""
    count = 0
    yy = 0.0
    for c in range(6):
        rhs[c] = 0.0
    for k in range(row.shape[0]):
        value = np.float64(row[k])
        if value == value:
            count += 1
            yy += value * value
            for c in range(6):
                rhs[c] += design[k, c] * value
    return count, yy


@serial_kernel
def _gappy_gram(row, design, shared_gram, gram):
    """The shared Gram matrix minus the missing dates' rows (few, so cheaper than a rebuild)."""
    for c in range(6):
        for d in range(6):
            gram[c, d] = shared_gram[c, d]
    for k in range(row.shape[0]):
        if row[k] != row[k]:
            for c in range(6):
                for d in range(c + 1):
                    gram[c, d] -= design[k, c] * design[k, d]
    for c in range(6):
        for d in range(c):
            gram[d, c] = gram[c, d]


@serial_kernel
def _coherence(row, design, coefficients, radians_per_mm):
    real = 0.0
    imaginary = 0.0
    count = 0
    for k in range(row.shape[0]):
        value = np.float64(row[k])
        if value == value:
            model = 0.0
            for i in range(4):
                model += coefficients[i] * design[k, 2 + i]
            # Optimization: single-precision trig; phases are small and errors average out.
            phase = np.float32((value - model) * radians_per_mm)
            real += np.cos(phase)
            imaginary += np.sin(phase)
            count += 1
    if count == 0:
        return np.nan
    return np.sqrt(real * real + imaginary * imaginary) / count


@serial_kernel
def _fit_one(row, design, shared_gram, gram, rhs, work, out, i, radians_per_mm, coherence):
    factor, coefficients, inverse_diagonal = work
    count, yy = _accumulate(row, design, rhs)
    use_gram = shared_gram
    if count < row.shape[0]:
        _gappy_gram(row, design, shared_gram, gram)
        use_gram = gram
    for j in range(8):
        out[j, i] = np.nan
    if count < 7:
        return
    ssr = _solve_sub(use_gram, rhs, yy, LINEAR_COLUMNS, factor, coefficients, inverse_diagonal)
    if ssr >= 0.0:
        out[0, i] = coefficients[0]
        out[1, i] = np.sqrt(inverse_diagonal[0] * ssr / (count - 4))
        if coherence:
            out[7, i] = _coherence(row, design, coefficients, radians_per_mm)
    ssr = _solve_sub(use_gram, rhs, yy, QUADRATIC_COLUMNS, factor, coefficients, inverse_diagonal)
    if ssr >= 0.0:
        out[2, i] = 2.0 * coefficients[0]
        out[3, i] = 2.0 * np.sqrt(inverse_diagonal[0] * ssr / (count - 5))
    ssr = _solve_sub(use_gram, rhs, yy, CUBIC_COLUMNS, factor, coefficients, inverse_diagonal)
    if ssr >= 0.0:
        out[4, i] = np.sqrt(coefficients[4] ** 2 + coefficients[5] ** 2)
        sigma2 = ssr / (count - 6)
        out[5, i] = np.sqrt((inverse_diagonal[4] + inverse_diagonal[5]) / 2.0 * sigma2)
        out[6, i] = np.sqrt(ssr / count)


@parallel_kernel
def _fit_kernel(series, design, shared_gram, radians_per_mm, coherence, out):
    n = series.shape[0]
    blocks = (n + BLOCK - 1) // BLOCK
    for block in prange(blocks):
        # Work arrays once per block of points, not per point.
        gram = np.empty((6, 6))
        rhs = np.empty(6)
        work = (np.empty((6, 6)), np.empty(6), np.empty(12))
        for i in range(block * BLOCK, min(n, (block + 1) * BLOCK)):
            _fit_one(
                series[i], design, shared_gram, gram, rhs, work, out, i, radians_per_mm, coherence
            )


def fit_series(
    series: np.ndarray,
    years: np.ndarray,
    wavelength_mm: float = SENTINEL1_WAVELENGTH_MM,
    coherence: bool = True,
) -> FitResult:
    """Fit every series (points x dates, mm, NaN = missing) against time in years.

    Returns float32 arrays per point (see module docstring for units). Points with fewer than
    seven finite dates get NaN.
    """
    series = np.ascontiguousarray(series, dtype=np.float32)
    design = basis(years)
    if series.ndim != 2 or series.shape[1] != design.shape[0]:
        raise ValueError(f"series shape {series.shape} does not match {design.shape[0]} dates")
    shared_gram = np.ascontiguousarray(design.T @ design)
    out = np.empty((8, series.shape[0]), dtype=np.float32)
    radians_per_mm = 4 * np.pi / wavelength_mm
    _fit_kernel(series, design, shared_gram, radians_per_mm, coherence, out)
    return dict(zip(OUTPUT_NAMES, out, strict=True))  # type: ignore[return-value]


@parallel_kernel
def _subtract_kernel(series, reference):
    for i in prange(series.shape[0]):
        for k in range(series.shape[1]):
            series[i, k] -= reference[k]


def subtract_reference(series: np.ndarray, reference: np.ndarray) -> None:
    """Subtract one reference series (mm) from every series in place (float32, NaN kept)."""
    _subtract_kernel(series, np.ascontiguousarray(reference, dtype=np.float32))


@parallel_kernel
def _remove_rate_kernel(series, rate, years):
    for i in prange(series.shape[0]):
        for k in range(series.shape[1]):
            series[i, k] -= rate[i] * years[k]


def remove_velocity(series: np.ndarray, velocity_mm_yr: np.ndarray, years: np.ndarray) -> None:
    """Subtract a per-point linear trend (mm/yr x years) from the series in place."""
    _remove_rate_kernel(
        series,
        np.ascontiguousarray(velocity_mm_yr, dtype=np.float32),
        np.ascontiguousarray(years, dtype=np.float32),
    )
