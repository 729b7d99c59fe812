"""processing/kernels/analysis.py against plain numpy on the same series, and against known
synthetic truth."""

from __future__ import annotations

import numpy as np
import pytest

from processing.kernels.analysis import (
    displacement_between,
    least_squares,
    model_design,
    period_velocity,
    years_of,
)

RNG = np.random.default_rng(15)
YEARS = years_of(np.arange(0, 5 * 365, 6))  # 6-day revisit over five years


def numpy_fit(design: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Plain OLS: coefficients, their stds sqrt(diag((GᵀG)⁻¹)·s²), residual std s."""
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    residuals = values - design @ coefficients
    variance = residuals @ residuals / (len(values) - design.shape[1])
    stds = np.sqrt(np.diag(np.linalg.inv(design.T @ design)) * variance)
    return coefficients, stds, float(np.sqrt(variance))


def noisy_series(count: int, gaps: float = 0.0) -> np.ndarray:
    truth = RNG.normal(0, 5, (count, 1)) * YEARS + RNG.normal(0, 3, (count, 1))
    series = truth + RNG.normal(0, 2, (count, YEARS.size))
    series[RNG.random(series.shape) < gaps] = np.nan
    return series


@pytest.mark.parametrize("gaps", [0.0, 0.2])
def test_period_velocity_is_numpy_polyfit_over_the_window(gaps: float) -> None:
    series = noisy_series(50, gaps)
    window = (YEARS >= 1.0) & (YEARS <= 2.5)
    velocity, std, count = period_velocity(series, YEARS, window)
    for row in range(len(series)):
        keep = window & np.isfinite(series[row])
        slope, _ = np.polyfit(YEARS[keep], series[row, keep], 1)
        design = np.column_stack([np.ones(keep.sum()), YEARS[keep]])
        _, stds, _ = numpy_fit(design, series[row, keep])
        assert velocity[row] == pytest.approx(slope, abs=1e-9)
        assert std[row] == pytest.approx(stds[1], rel=1e-9)
        assert count[row] == keep.sum()


def test_a_known_rate_is_recovered_over_its_own_period() -> None:
    # Still until 2 years, then sinking at 12 mm/yr: the period sees the motion the whole
    # window averages away.
    series = np.where(YEARS < 2, 0.0, -12.0 * (YEARS - 2))[np.newaxis, :]
    late = period_velocity(series, YEARS, YEARS >= 2)[0][0]
    early = period_velocity(series, YEARS, YEARS < 2)[0][0]
    assert late == pytest.approx(-12.0, abs=1e-9)
    assert early == pytest.approx(0.0, abs=1e-9)


def test_too_few_dates_give_nan_not_a_guess() -> None:
    series = noisy_series(1)
    window = np.zeros(YEARS.size, dtype=bool)
    window[:2] = True
    velocity, std, count = period_velocity(series, YEARS, window)
    assert np.isnan(velocity[0]) and np.isnan(std[0]) and count[0] == 2


@pytest.mark.parametrize(
    ("terms", "step"),
    [
        ((), None),
        (("acceleration",), None),
        (("seasonal",), None),
        (("acceleration", "seasonal"), 2.7),
    ],
)
def test_each_model_s_parameters_are_numpy_lstsq(terms: tuple, step: float | None) -> None:
    series = noisy_series(20, gaps=0.1)
    design, names = model_design(YEARS, terms, step)
    fit = least_squares(series, design)
    for row in range(len(series)):
        keep = np.isfinite(series[row])
        coefficients, stds, residual = numpy_fit(design[keep], series[row, keep])
        np.testing.assert_allclose(fit.coefficients[row], coefficients, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(fit.stds[row], stds, rtol=1e-7)
        assert fit.residual_std[row] == pytest.approx(residual, rel=1e-7)
    assert names[:2] == ["offset", "velocity"]
    assert ("step" in names) == (step is not None)


def test_a_step_and_a_season_of_known_size_are_recovered() -> None:
    truth = {
        "offset": 4.0,
        "velocity": -3.0,
        "seasonal_sin": 2.0,
        "seasonal_cos": -1.0,
        "step": 15.0,
    }
    design, names = model_design(YEARS, ("seasonal",), 3.1)
    values = design @ np.array([truth[name] for name in names])
    noisy = values + RNG.normal(0, 1.0, values.size)
    fit = least_squares(noisy[np.newaxis, :], design)
    for index, name in enumerate(names):
        # Within four standard errors of the truth, and the std is not absurdly wide.
        assert abs(fit.coefficients[0, index] - truth[name]) < 4 * fit.stds[0, index]
        assert fit.stds[0, index] < 0.5
    assert fit.residual_std[0] == pytest.approx(1.0, rel=0.15)


def test_unknown_terms_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown model terms: quadratic"):
        model_design(YEARS, ("quadratic",))


def test_displacement_between_two_dates_is_the_difference() -> None:
    series = noisy_series(10, gaps=0.1)
    np.testing.assert_array_equal(displacement_between(series, 3, 40), series[:, 40] - series[:, 3])
