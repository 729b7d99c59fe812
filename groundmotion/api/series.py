"""Time-series helpers of the API: decimal years, the fitted model and area means (numpy only).

Units: displacements in mm, time in years since the first date, velocity mm/yr, acceleration
mm/yr², seasonal amplitude mm. Signs are the dataset's (towards the satellite, east or up).
"""

from __future__ import annotations

import datetime
import math
from functools import lru_cache
from typing import TypedDict

import numpy as np

DAYS_PER_YEAR = 365.25


class FittedModel(TypedDict):
    terms: str
    offset_mm: float
    velocity_mm_yr: float
    acceleration_mm_yr2: float
    seasonal_amplitude_mm: float
    residual_std_mm: float
    fitted: list[float]


def years_since_first(dates: list[datetime.date]) -> np.ndarray:
    """Time of each date in years (365.25 days) since the first date."""
    days = np.array([(date - dates[0]).days for date in dates], dtype=np.float64)
    return days / DAYS_PER_YEAR


def design_matrix(years: np.ndarray) -> np.ndarray:
    """Columns: offset, velocity, acceleration (t²/2), annual sine and cosine."""
    angle = 2 * np.pi * years
    return np.column_stack([np.ones_like(years), years, years**2 / 2, np.sin(angle), np.cos(angle)])


@lru_cache(maxsize=64)
def date_axis(dates: tuple[datetime.date, ...]) -> tuple[tuple[str, ...], np.ndarray]:
    """(ISO dates, design matrix) of a dataset's dates: the same for each of its points, so
    kept (read-only) per tuple of dates."""
    matrix = design_matrix(years_since_first(list(dates)))
    matrix.flags.writeable = False
    return tuple(date.isoformat() for date in dates), matrix


def fit_model(dates: list[datetime.date], displacements: np.ndarray) -> FittedModel | None:
    """Least-squares fit of a quadratic trend plus an annual term; None if too few dates.

    NaN displacements (missing dates) are left out of the fit; the fitted curve covers every date.
    """
    matrix = date_axis(tuple(dates))[1]
    values = np.asarray(displacements, dtype=np.float64)
    present = np.isfinite(values)
    if present.sum() <= matrix.shape[1]:
        return None
    coefficients, *_ = np.linalg.lstsq(matrix[present], values[present], rcond=None)
    fitted = matrix @ coefficients
    residuals = values[present] - fitted[present]
    degrees_of_freedom = present.sum() - matrix.shape[1]
    return {
        "terms": "offset + velocity·t + acceleration·t²/2 + annual sine and cosine (t in years)",
        "offset_mm": float(coefficients[0]),
        "velocity_mm_yr": float(coefficients[1]),
        "acceleration_mm_yr2": float(coefficients[2]),
        "seasonal_amplitude_mm": float(np.hypot(coefficients[3], coefficients[4])),
        "residual_std_mm": float(np.sqrt((residuals**2).sum() / degrees_of_freedom)),
        "fitted": np.round(fitted, 3).tolist(),
    }


def mean_series(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per date over points (mm), ignoring missing values."""
    if matrix.shape[0] == 0:
        empty = np.full(matrix.shape[1], np.nan)
        return empty, empty
    values = matrix.astype(np.float64)
    return np.nanmean(values, axis=0), np.nanstd(values, axis=0)


def json_floats(values: np.ndarray, digits: int = 3) -> list[float | None]:
    """Rounded floats for JSON, NaN as null."""
    values = np.asarray(values, dtype=np.float64)
    rounded = np.round(values, digits).tolist()
    if np.isfinite(values).all():
        return rounded
    return [value if math.isfinite(value) else None for value in rounded]
