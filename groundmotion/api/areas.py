"""The mean of the points inside a drawn area: the mean series with its spread and count per
date, the velocity fitted to the mean beside the spread of the points' own velocities, and the
mean as CSV. Units: mm, mm/yr."""

from __future__ import annotations

import csv
import io
import warnings
from typing import Any

import numpy as np

from groundmotion.api import series
from groundmotion.models import Dataset
from groundmotion.quantities import quantity

# Below two years the acceleration and annual terms of fit_model soak up the trend (over half
# a year a -5 mm/yr series came out at +1 mm/yr): a straight line is fitted instead.
FULL_MODEL_YEARS = 2.0


def finite_or_none(value: float) -> float | None:
    return round(float(value), 3) if np.isfinite(value) else None


def mean_velocity(dates: list, mean: np.ndarray) -> tuple[float | None, list | None, str]:
    """(velocity mm/yr, fitted curve, which model) of the mean series."""
    years = series.years_since_first(dates)
    present = np.isfinite(mean)
    if present.sum() < 3:
        return None, None, "none: too few dates"
    if years[-1] >= FULL_MODEL_YEARS:
        model = series.fit_model(dates, mean)
        if model is not None:
            return round(model["velocity_mm_yr"], 3), model["fitted"], model["terms"]
    slope, offset = np.polyfit(years[present], mean[present], 1)
    line = np.round(offset + slope * years, 3).tolist()
    return round(float(slope), 3), line, "offset + velocity·t (series shorter than 2 years)"


def summary(dataset: Dataset, matrix: np.ndarray, velocities: np.ndarray) -> dict[str, Any]:
    """The area-mean body of `matrix` (points x dates, NaN missing) and the points' velocities."""
    dates = dataset.acquisition_dates
    with warnings.catch_warnings():
        # A date no point inside has is NaN in mean and std (numpy warns "Mean of empty slice").
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, spread = series.mean_series(matrix)
    counts = np.isfinite(matrix).sum(axis=0) if matrix.shape[0] else np.zeros(len(dates), int)
    velocity, fitted, terms = mean_velocity(dates, mean)
    known = velocities[np.isfinite(velocities)]
    words = quantity(dataset)
    return {
        "dataset": dataset.slug,
        "count": int(matrix.shape[0]),
        "dates": [date.isoformat() for date in dates],
        "mean": series.json_floats(mean),
        "std": series.json_floats(spread),
        "count_per_date": counts.astype(int).tolist(),
        "velocity_mm_yr": velocity,
        "velocity_model": terms,
        "fitted": fitted,
        "velocity_std_mm_yr": finite_or_none(known.std()) if known.size else None,
        "points_velocity_mean_mm_yr": finite_or_none(known.mean()) if known.size else None,
        "units": "mm",
        "quantity": words,
        "sign_convention": words["sign_convention"],
    }


def csv_text(body: dict[str, Any]) -> str:
    """date, mean_mm, std_mm, count: one row a date; a first comment line says what it is."""
    buffer = io.StringIO()
    buffer.write(
        f"# mean of {body['count']} points, dataset {body['dataset']}; {body['sign_convention']}\n"
    )
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["date", "mean_mm", "std_mm", "count"])
    rows = zip(body["dates"], body["mean"], body["std"], body["count_per_date"], strict=True)
    for date, mean, spread, count in rows:
        writer.writerow(
            [date, "" if mean is None else mean, "" if spread is None else spread, count]
        )
    return buffer.getvalue()
