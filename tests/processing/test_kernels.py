"""Every kernel against an independent plain-numpy implementation."""

from __future__ import annotations

import numpy as np
import pytest

from processing.kernels import calibration, decomposition, reflectors, velocity

WAVELENGTH_MM = 55.465763


def numpy_fit(y: np.ndarray, t: np.ndarray) -> dict[str, float]:
    ok = np.isfinite(y)
    y, t = y[ok].astype(np.float64), t[ok]
    cos, sin, one = np.cos(2 * np.pi * t), np.sin(2 * np.pi * t), np.ones_like(t)
    out = {}
    for name, design, column in (
        ("velocity", np.column_stack([t, one, cos, sin]), 0),
        ("acceleration", np.column_stack([t**2 / 2, t, one, cos, sin]), 0),
    ):
        coefficients, residual, *_ = np.linalg.lstsq(design, y, rcond=None)
        covariance = np.linalg.inv(design.T @ design)
        sigma2 = residual[0] / (len(y) - design.shape[1])
        out[name] = coefficients[column]
        out[f"{name}_std"] = np.sqrt(covariance[column, column] * sigma2)
        if name == "velocity":
            phase = (y - design @ coefficients) * 4 * np.pi / WAVELENGTH_MM
            out["temporal_coherence"] = abs(np.exp(1j * phase).mean())
    cubic = np.column_stack([t**3, t**2, t, one, cos, sin])
    coefficients, residual, *_ = np.linalg.lstsq(cubic, y, rcond=None)
    covariance = np.linalg.inv(cubic.T @ cubic)
    out["seasonality"] = np.hypot(coefficients[4], coefficients[5])
    out["seasonality_std"] = np.sqrt(
        (covariance[4, 4] + covariance[5, 5]) / 2 * residual[0] / (len(y) - 6)
    )
    out["rmse"] = np.sqrt(residual[0] / len(y))
    return out


@pytest.fixture
def stack() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(120) * 12 / 365.25
    rate = rng.normal(0, 4, (300, 1))
    series = rate * t + 0.8 * t**2 + 3 * np.sin(2 * np.pi * t + 1) + rng.normal(0, 2, (300, 120))
    return series.astype(np.float32), t


@pytest.mark.parametrize("missing_share", [0.0, 0.1])
def test_fit_matches_numpy_least_squares(stack, missing_share: float) -> None:
    series, t = stack
    rng = np.random.default_rng(1)
    series = series.copy()
    series[rng.random(series.shape) < missing_share] = np.nan
    result = velocity.fit_series(series, t, WAVELENGTH_MM)
    for i in range(0, 300, 37):
        expected = numpy_fit(series[i], t)
        for name, value in expected.items():
            assert result[name][i] == pytest.approx(value, rel=2e-4, abs=2e-4), name


def test_fit_recovers_known_truth_without_noise() -> None:
    t = np.arange(200) * 6 / 365.25
    series = (np.array([[-3.0], [2.5]]) * t + 1.5 * t**2 / 2).astype(np.float32)
    result = velocity.fit_series(series, t)
    assert result["acceleration"] == pytest.approx([1.5, 1.5], abs=1e-3)
    linear = velocity.fit_series((np.array([[-3.0]]) * t).astype(np.float32), t)
    assert linear["velocity"][0] == pytest.approx(-3.0, abs=1e-4)
    assert linear["temporal_coherence"][0] == pytest.approx(1.0, abs=1e-4)


def test_fit_gives_nan_for_too_short_series() -> None:
    t = np.arange(20) / 30.0
    series = np.full((1, 20), np.nan, dtype=np.float32)
    series[0, :5] = 1.0
    assert np.isnan(velocity.fit_series(series, t)["velocity"][0])


def test_resample_matches_numpy_interp() -> None:
    rng = np.random.default_rng(3)
    days = np.cumsum(rng.integers(6, 30, 50))
    series = rng.normal(0, 5, (20, 50)).astype(np.float32)
    series[rng.random(series.shape) < 0.2] = np.nan
    target = np.arange(days[0] - 12, days[-1] + 12, 6)
    out = decomposition.resample_series(series, days, target)
    for i in range(20):
        ok = np.isfinite(series[i])
        expected = np.interp(target, days[ok], series[i, ok])
        np.testing.assert_allclose(out[i], expected, rtol=1e-5, atol=1e-4)


def test_cell_solution_matches_numpy_lstsq() -> None:
    rng = np.random.default_rng(4)
    counts = np.array([3, 5, 2, 7])
    starts = np.concatenate([[0], np.cumsum(counts)])
    n = starts[-1]
    los_east = np.where(rng.random(n) < 0.5, -0.62, 0.59) + rng.normal(0, 0.01, n)
    los_up = 0.78 + rng.normal(0, 0.01, n)
    series = rng.normal(0, 3, (n, 10)).astype(np.float32)
    weights = rng.uniform(0.5, 2, n)
    los_east[starts[2]], los_east[starts[2] + 1] = -0.62, 0.6  # two-point cell, exact
    out = decomposition.solve_cells(starts, los_east, los_up, series, weights)
    for c in range(4):
        part = slice(starts[c], starts[c + 1])
        root = np.sqrt(weights[part])[:, None]
        design = np.column_stack([los_east[part], los_up[part]]) * root
        solution = np.linalg.lstsq(design, series[part] * root, rcond=None)[0]
        np.testing.assert_allclose(out["east"][c], solution[0], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(out["up"][c], solution[1], rtol=1e-4, atol=1e-4)


def test_group_by_cell_keeps_only_cells_seen_by_both_geometries() -> None:
    column = np.array([5, 5, 6, 6, -2, -2])
    row = np.array([1, 1, 1, 1, 3, 3])
    geometry = np.array([0, 1, 0, 0, 1, 0])
    groups = decomposition.group_by_cell(column, row, geometry)
    cells = zip(groups["column"].tolist(), groups["row"].tolist(), strict=True)
    assert sorted(cells) == [(-2, 3), (5, 1)]
    assert sorted(groups["order"].tolist()) == [0, 1, 4, 5]


def test_calibration_surface_recovers_a_plane() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-20, 20, 8), rng.uniform(-20, 20, 8)
    difference = 1.5 + 0.05 * x - 0.03 * y
    coefficients = calibration.fit_surface(x, y, difference)
    np.testing.assert_allclose(coefficients, [1.5, 0.05, -0.03], atol=1e-9)
    assert calibration.surface_order(12) == 2


def test_idw_interpolation_matches_plain_formula() -> None:
    sx, sy, values = np.array([0.0, 10.0, 0.0]), np.array([0.0, 0.0, 10.0]), np.array([1, 2, 4.0])
    out = calibration.interpolate_stations(
        sx, sy, values, np.array([3.0, 0.0]), np.array([4.0, 0.0])
    )
    weights = 1 / np.array([25.0, 49 + 16, 9 + 36])
    assert out[0] == pytest.approx((weights @ values) / weights.sum())
    assert out[1] == pytest.approx(1.0)


def test_theoretical_rcs_of_a_trihedral() -> None:
    assert reflectors.theoretical_rcs(0.9, 0.0555) == pytest.approx(
        4 * np.pi * 0.9**4 / (3 * 0.0555**2)
    )


def test_scr_recovers_a_known_target_above_clutter() -> None:
    rng = np.random.default_rng(6)
    clutter = rng.rayleigh(1 / np.sqrt(2), (40, 15, 15))  # mean intensity 1
    field = clutter.astype(complex)
    field[:, 7, 7] += 30.0  # target intensity 900 = 29.5 dB over clutter
    result = reflectors.signal_to_clutter(np.abs(field))
    intensity = np.abs(field) ** 2
    window, big = intensity[:, 6:9, 6:9], intensity[:, 3:12, 3:12]
    expected_clutter = (big.sum(axis=(1, 2)) - window.sum(axis=(1, 2))) / 72
    expected = (window.sum(axis=(1, 2)) - 9 * expected_clutter) / expected_clutter
    np.testing.assert_allclose(result["scr"], expected)
    assert np.median(reflectors.to_db(result["scr"])) == pytest.approx(29.5, abs=1.0)
    sigma = reflectors.los_precision_mm(900.0, 0.0555)
    assert sigma == pytest.approx(55.5 / (4 * np.pi * np.sqrt(1800)))


def test_fit_coherence_matches_numpy_when_residual_phases_wrap() -> None:
    rng = np.random.default_rng(11)
    t = np.arange(150) * 6 / 365.25
    noise = rng.normal(0, [[0.5], [4.0], [12.0], [40.0]], (4, 150))  # phases up to many turns
    series = (2.0 * t + noise).astype(np.float32)
    result = velocity.fit_series(series, t, WAVELENGTH_MM)
    for i in range(4):
        expected = numpy_fit(series[i], t)["temporal_coherence"]
        assert result["temporal_coherence"][i] == pytest.approx(expected, abs=2e-5)
    assert result["temporal_coherence"][0] > 0.9 > 0.5 > result["temporal_coherence"][3]


def test_complete_and_gappy_paths_agree_on_the_same_dates() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(100) * 6 / 365.25
    series = (rng.normal(0, 3, (50, 1)) * t + rng.normal(0, 2, (50, 100))).astype(np.float32)
    gappy = series.copy()
    gappy[::2, -1] = np.nan  # every other point takes the per-point (Cholesky) path
    fast = velocity.fit_series(series[::2, :-1], t[:-1])
    slow = velocity.fit_series(gappy[::2], t)
    for name in velocity.OUTPUT_NAMES:
        assert np.allclose(fast[name], slow[name], rtol=1e-4, atol=1e-5), name
    assert not np.allclose(fast["velocity"], velocity.fit_series(series[::2], t)["velocity"])


def test_harmonised_offsets_close_every_overlap_and_keep_the_anchored_mean() -> None:
    truth = np.array([0.4, -0.3, 0.1, 0.0])  # track 3 overlaps nothing
    pairs = np.array([[0, 1], [1, 2], [0, 2]])
    differences = truth[pairs[:, 0]] - truth[pairs[:, 1]]
    anchors = np.array([3.0, 1.0, 2.0, 5.0])
    offsets = calibration.harmonise_offsets(4, pairs, differences, np.ones(3), anchors)
    shift = np.average(truth[:3], weights=anchors[:3])  # only the anchored mean is unseen
    np.testing.assert_allclose(offsets[:3], truth[:3] - shift, atol=1e-12)
    assert offsets[3] == 0.0
    # Inconsistent overlaps: the weighted least-squares compromise, as numpy solves it.
    noisy = differences + np.array([0.1, -0.05, 0.0])
    weights = np.array([4.0, 1.0, 2.0])
    offsets = calibration.harmonise_offsets(3, pairs, noisy, weights, anchors[:3])
    design = np.array([[1, -1, 0], [0, 1, -1], [1, 0, -1]], dtype=float)
    constraint = anchors[:3] / anchors[:3].sum()
    stacked = np.vstack([design * np.sqrt(weights)[:, None], 1e6 * constraint])
    expected = np.linalg.lstsq(stacked, np.append(noisy * np.sqrt(weights), 0), rcond=None)[0]
    np.testing.assert_allclose(offsets, expected, atol=1e-6)


@pytest.mark.parametrize("trend_mm_yr", [100.0, 1000.0])
def test_fit_of_complete_series_stays_accurate_for_metres_of_motion(trend_mm_yr: float) -> None:
    # SSR = yᵀy - explained cancels: check it against lstsq when yᵀy dwarfs the residuals.
    rng = np.random.default_rng(8)
    t = np.arange(300) * 6 / 365.25
    series = trend_mm_yr * t + 0.3 * trend_mm_yr * t**2 + rng.normal(0, 1, (4, 300))
    series = series.astype(np.float32)
    result = velocity.fit_series(series, t, WAVELENGTH_MM)
    for i in range(4):
        for name, value in numpy_fit(series[i], t).items():
            tolerance = 1e-3 if name == "temporal_coherence" else 1e-4
            assert result[name][i] == pytest.approx(value, rel=tolerance, abs=1e-4), name
