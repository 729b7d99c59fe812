"""What fanned-out calibrate and decompose rely on to equal the single-process run bit for
bit: a point's (or cell's) result does not depend on which others share its batch. The
chunks of a fanned-out job cut the points elsewhere than the single-process run's steps."""

from __future__ import annotations

import numpy as np

from processing.kernels import calibration, velocity
from processing.products.decompose import shift_to_model_origin

RNG = np.random.default_rng(7)


def batched(function, *arrays: np.ndarray, size: int, before: tuple = ()) -> np.ndarray:
    """function(*before, *pieces of arrays) on pieces of `size`, put end to end."""
    pieces = range(0, len(arrays[0]), size)
    return np.concatenate([function(*before, *(a[i : i + size] for a in arrays)) for i in pieces])


def test_the_gnss_surface_and_its_std_are_computed_point_by_point() -> None:
    x, y = RNG.normal(0, 20, 20_003), RNG.normal(0, 20, 20_003)
    for terms in (1, 3, 6):
        coefficients = RNG.normal(0, 1, terms)
        covariance = np.cov(RNG.normal(size=(terms, 50))).reshape(terms, terms)
        surface = calibration.evaluate_surface(coefficients, x, y)
        std = calibration.surface_std(covariance, x, y)
        assert (terms == 1 or np.ptp(surface) > 1) and np.all(std > 0)
        for size in (1, 7, 4096):
            np.testing.assert_array_equal(
                batched(calibration.evaluate_surface, x, y, size=size, before=(coefficients,)),
                surface,
            )
            np.testing.assert_array_equal(
                batched(calibration.surface_std, x, y, size=size, before=(covariance,)), std
            )


def test_the_l3_model_origin_and_fit_are_computed_series_by_series() -> None:
    years = np.arange(180) * 6 / velocity.DAYS_PER_YEAR
    series = RNG.normal(0, 5, (3001, 180)).astype(np.float32) + (years * 3).astype(np.float32)
    series[::17, 5] = np.nan
    shifted = shift_to_model_origin(series, years)
    assert np.nanmax(np.abs(shifted - series)) > 0.1  # it did shift
    fitted = velocity.fit_series(shifted, years)["velocity"]
    for size in (1, 13, 1000):
        np.testing.assert_array_equal(
            batched(lambda s: shift_to_model_origin(s, years), series, size=size), shifted
        )
        np.testing.assert_array_equal(
            batched(lambda s: velocity.fit_series(s, years)["velocity"], shifted, size=size),
            fitted,
        )
