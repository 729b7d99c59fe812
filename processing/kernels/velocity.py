"""Per-point time-series fit as EGMS defines it (EGMS-FORMAT.md, ATBD).

Units: series in mm, time in years since the first date, velocity mm/yr, acceleration
mm/yr², seasonality mm. Positive displacement is towards the satellite (LOS) or up/east (L3).

- mean velocity: coefficient of t in the [t, 1, cos 2πt, sin 2πt] fit;
- acceleration: coefficient of t²/2 in the [t²/2, t, 1, cos, sin] fit;
- seasonality and RMSE: from the cubic + seasonal fit [t³, t², t, 1, cos, sin];
- standard deviations: sqrt(diag((GᵀG)⁻¹)) times the residual std sqrt(SSR / (n - p));
- temporal coherence: |mean(exp(j·4π/λ·r))| of the residuals r of the linear model.

One vectorised pass per point accumulates Gᵀy and yᵀy against the six basis columns; the
three designs are sub-blocks of the one 6 x 6 Gram matrix (t²/2 only rescales the t²
coefficient). Complete series share precomputed inverses, so every coefficient is a 6-term
dot product and every SSR is yᵀy - (Gᵀy)ᵀ(GᵀG)⁻¹(Gᵀy): all fits and stds in one memory pass.
Gappy series (NaN dates) get their own Gram matrix and a Cholesky solve. The coherence needs
the residual phase of every date: a second pass over the (cached) row, with polynomial
float32 cos/sin that vectorise.
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
def _accumulate(row, columns):
    """Gᵀy against the six basis rows (columns: 6 x dates), yᵀy and the finite-date count.

    Optimization: one pass with seven scalar accumulators and a select for NaN, which LLVM
    turns into SIMD reductions; this is the only pass over a complete series' values.
    """
    s0 = s1 = s2 = s3 = s4 = s5 = yy = 0.0
    count = 0
    for k in range(row.shape[0]):
        value = np.float64(row[k])
        finite = value == value
        y = value if finite else 0.0
        count += 1 if finite else 0
        s0 += columns[0, k] * y
        s1 += columns[1, k] * y
        s2 += columns[2, k] * y
        s3 += columns[3, k] * y
        s4 += columns[4, k] * y
        s5 += columns[5, k] * y
        yy += y * y
    return count, yy, (s0, s1, s2, s3, s4, s5)


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
def _sincos(phase):
    """cos and sin of a float32 phase (radians) by polynomials, ~1e-7 absolute error.

    Optimization: libm's cosf/sinf are scalar calls that LLVM cannot vectorise; these
    polynomials (half angle reduced to [-pi/2, pi/2], Taylor to degree 12) can.
    """
    turns = np.float32(np.rint(phase * np.float32(0.15915494309189535)))
    half = (phase - turns * np.float32(6.283185307179586)) * np.float32(0.5)
    h2 = half * half
    sine = half * (
        np.float32(1.0)
        + h2
        * (
            np.float32(-1.0 / 6)
            + h2
            * (
                np.float32(1.0 / 120)
                + h2
                * (
                    np.float32(-1.0 / 5040)
                    + h2 * (np.float32(1.0 / 362880) + h2 * np.float32(-1.0 / 39916800))
                )
            )
        )
    )
    cosine = np.float32(1.0) + h2 * (
        np.float32(-0.5)
        + h2
        * (
            np.float32(1.0 / 24)
            + h2
            * (
                np.float32(-1.0 / 720)
                + h2
                * (
                    np.float32(1.0 / 40320)
                    + h2 * (np.float32(-1.0 / 3628800) + h2 * np.float32(1.0 / 479001600))
                )
            )
        )
    )
    return cosine * cosine - sine * sine, np.float32(2.0) * sine * cosine


@serial_kernel
def _coherence(row, model_rows, c0, c1, c2, c3, radians_per_mm):
    """|mean(exp(j·phase))| of the linear model's residual phases over the finite dates.

    model_rows: float32 rows t, cos 2πt, sin 2πt; c0..c3 the [t, 1, cos, sin] coefficients.
    """
    real = np.float32(0.0)
    imaginary = np.float32(0.0)
    count = 0
    scale = np.float32(radians_per_mm)
    v, o, a, b = np.float32(c0), np.float32(c1), np.float32(c2), np.float32(c3)
    for k in range(row.shape[0]):
        value = row[k]
        finite = value == value
        model = v * model_rows[0, k] + o + a * model_rows[1, k] + b * model_rows[2, k]
        cosine, sine = _sincos((value - model) * scale if finite else np.float32(0.0))
        real += cosine if finite else np.float32(0.0)
        imaginary += sine if finite else np.float32(0.0)
        count += 1 if finite else 0
    if count == 0:
        return np.nan
    return np.sqrt(np.float64(real) ** 2 + np.float64(imaginary) ** 2) / count


@serial_kernel
def _store(out, i, design, coefficients, ssr, variance_diagonal, count):
    """Write one design's outputs (design 0 linear, 1 quadratic, 2 cubic) for point i."""
    if ssr < 0.0:
        return
    if design == 0:
        out[0, i] = coefficients[0]
        out[1, i] = np.sqrt(variance_diagonal[0] * ssr / (count - 4))
    elif design == 1:
        out[2, i] = 2.0 * coefficients[0]
        out[3, i] = 2.0 * np.sqrt(variance_diagonal[0] * ssr / (count - 5))
    else:
        out[4, i] = np.sqrt(coefficients[4] ** 2 + coefficients[5] ** 2)
        sigma2 = ssr / (count - 6)
        out[5, i] = np.sqrt((variance_diagonal[4] + variance_diagonal[5]) / 2.0 * sigma2)
        out[6, i] = np.sqrt(ssr / count)


@serial_kernel
def _form_row(matrix, r):
    """matrix[r] · r (r: the six Gᵀy sums as a tuple), written out for LLVM."""
    return (
        matrix[0] * r[0]
        + matrix[1] * r[1]
        + matrix[2] * r[2]
        + matrix[3] * r[3]
        + matrix[4] * r[4]
        + matrix[5] * r[5]
    )


@serial_kernel
def _residual_sum(inverse, r, yy):
    """SSR of one design: yᵀy - (Gᵀy)ᵀ (GᵀG)⁻¹ (Gᵀy), mm²."""
    explained = (
        r[0] * _form_row(inverse[0], r)
        + r[1] * _form_row(inverse[1], r)
        + r[2] * _form_row(inverse[2], r)
        + r[3] * _form_row(inverse[3], r)
        + r[4] * _form_row(inverse[4], r)
        + r[5] * _form_row(inverse[5], r)
    )
    return max(yy - explained, 0.0)


@serial_kernel
def _fit_shared(r, yy, count, inverses, rows, out, i, linear):
    """All outputs of a complete series from the shared inverses; linear coefficients kept.

    r: the six Gᵀy sums. inverses: each design's (GᵀG)⁻¹ scattered on the six basis
    columns (3 x 6 x 6, zero elsewhere); rows (7 x 6): the [t, 1, cos, sin] coefficients,
    the t² coefficient of the quadratic design and the cos, sin coefficients of the cubic
    design, as linear maps of Gᵀy. Optimization: scalars and written-out 6-term sums; a
    version with loops over small arrays ran at half the speed.
    """
    ssr_linear = _residual_sum(inverses[0], r, yy)
    ssr_quadratic = _residual_sum(inverses[1], r, yy)
    ssr_cubic = _residual_sum(inverses[2], r, yy)
    for j in range(4):
        linear[j] = _form_row(rows[j], r)
    out[0, i] = linear[0]
    out[1, i] = np.sqrt(inverses[0, 2, 2] * ssr_linear / (count - 4))
    out[2, i] = 2.0 * _form_row(rows[4], r)
    out[3, i] = 2.0 * np.sqrt(inverses[1, 1, 1] * ssr_quadratic / (count - 5))
    out[4, i] = np.hypot(_form_row(rows[5], r), _form_row(rows[6], r))
    seasonal_variance = (inverses[2, 4, 4] + inverses[2, 5, 5]) / 2.0
    out[5, i] = np.sqrt(seasonal_variance * ssr_cubic / (count - 6))
    out[6, i] = np.sqrt(ssr_cubic / count)


@serial_kernel
def _fit_gappy(row, design, shared_gram, rhs, yy, count, work, out, i, linear):
    """All three fits of a series with missing dates (its own Gram matrix, Cholesky)."""
    gram, factor, coefficients, inverse_diagonal, design_columns, sizes = work
    _gappy_gram(row, design, shared_gram, gram)
    for d in range(3):
        columns = design_columns[d, : sizes[d]]
        ssr = _solve_sub(gram, rhs, yy, columns, factor, coefficients, inverse_diagonal)
        _store(out, i, d, coefficients, ssr, inverse_diagonal, count)
        if d == 0:
            for j in range(4):
                linear[j] = coefficients[j] if ssr >= 0.0 else np.nan


@parallel_kernel
def _fit_kernel(series, design, columns, shared, model_rows, radians_per_mm, coherence, out):
    n, dates = series.shape
    blocks = (n + BLOCK - 1) // BLOCK
    inverses, rows, shared_gram, design_columns, sizes, usable = shared
    for block in prange(blocks):
        # Work arrays once per block of points, not per point.
        rhs, coefficients, linear = np.empty(6), np.empty(6), np.empty(4)
        work = (
            np.empty((6, 6)),
            np.empty((6, 6)),
            coefficients,
            np.empty(12),
            design_columns,
            sizes,
        )
        for i in range(block * BLOCK, min(n, (block + 1) * BLOCK)):
            for j in range(8):
                out[j, i] = np.nan
            count, yy, sums = _accumulate(series[i], columns)
            if count < 7:
                continue
            if count == dates and usable:
                _fit_shared(sums, yy, count, inverses, rows, out, i, linear)
            else:
                for c in range(6):
                    rhs[c] = sums[c]
                _fit_gappy(series[i], design, shared_gram, rhs, yy, count, work, out, i, linear)
            if coherence and linear[0] == linear[0]:
                out[7, i] = _coherence(
                    series[i],
                    model_rows,
                    linear[0],
                    linear[1],
                    linear[2],
                    linear[3],
                    radians_per_mm,
                )


DESIGNS = (LINEAR_COLUMNS, QUADRATIC_COLUMNS, CUBIC_COLUMNS)


def _shared_inverses(gram: np.ndarray) -> tuple:
    """What complete series share: see _fit_shared; plus the Gram matrix, design columns and
    sizes for the per-point path, and whether every design is solvable.

    Computed once per call (float64). A singular design (too few or degenerate dates) sends
    every series through the per-point Cholesky path instead.
    """
    inverses = np.zeros((3, 6, 6))
    columns = np.zeros((3, 6), dtype=np.int64)
    sizes = np.array([len(c) for c in DESIGNS], dtype=np.int64)
    usable = True
    for d, design_columns in enumerate(DESIGNS):
        block = gram[np.ix_(design_columns, design_columns)]
        columns[d, : len(design_columns)] = design_columns
        try:
            np.linalg.cholesky(block)
            inverses[d][np.ix_(design_columns, design_columns)] = np.linalg.inv(block)
        except np.linalg.LinAlgError:
            usable = False
    # Rows: linear t, 1, cos, sin; quadratic t²; cubic cos, sin (basis column indices).
    rows = np.stack(
        [
            inverses[0, 2],
            inverses[0, 3],
            inverses[0, 4],
            inverses[0, 5],
            inverses[1, 1],
            inverses[2, 4],
            inverses[2, 5],
        ]
    )
    return inverses, rows, np.ascontiguousarray(gram), columns, sizes, usable


def fit_series(
    series: np.ndarray,
    years: np.ndarray,
    wavelength_mm: float = SENTINEL1_WAVELENGTH_MM,
    coherence: bool = True,
) -> FitResult:
    """Fit every series (points x dates, mm, NaN = missing) against time in years.

    Returns float32 arrays per point (see module docstring for units). Points with fewer than
    seven finite dates get NaN; so does the coherence when `coherence` is False.
    """
    series = np.ascontiguousarray(series, dtype=np.float32)
    design = basis(years)
    if series.ndim != 2 or series.shape[1] != design.shape[0]:
        raise ValueError(f"series shape {series.shape} does not match {design.shape[0]} dates")
    shared = _shared_inverses(design.T @ design)
    columns = np.ascontiguousarray(design.T)
    model_rows = np.ascontiguousarray(columns[[2, 4, 5]], dtype=np.float32)
    out = np.empty((8, series.shape[0]), dtype=np.float32)
    radians_per_mm = 4 * np.pi / wavelength_mm
    _fit_kernel(series, design, columns, shared, model_rows, radians_per_mm, coherence, out)
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
