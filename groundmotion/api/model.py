"""`GET /api/points/<id>/model/`: a model of the user's choice fitted to one point's series.

Offset and velocity always; `terms` adds acceleration (t²/2) and an annual seasonal term
(sin and cos of 2πt, reported with their amplitude); `step` adds a Heaviside step at an event
date. Fitted over the period (`start`, `end`) or all dates, to the series minus the reference.
Units: t in years since the dataset's first date; offset, seasonal and step mm; velocity
mm/yr; acceleration mm/yr².
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import numpy as np
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from groundmotion.analysis import AnalysisError, dataset_years, parse_date
from groundmotion.api.openapi import ANALYSIS_PARAMETERS, MODEL_PARAMETERS, error_responses
from groundmotion.api.point_analysis import rounded
from groundmotion.api.series import json_floats
from groundmotion.api.views import analysed_point
from groundmotion.models import Dataset
from processing.kernels.analysis import MODEL_TERMS, least_squares, model_design

UNITS = {
    "offset": "mm",
    "velocity": "mm/yr",
    "acceleration": "mm/yr²",
    "seasonal_sin": "mm",
    "seasonal_cos": "mm",
    "seasonal_amplitude": "mm",
    "step": "mm",
}
# The trend `detrended` takes away: the seasonal term and the step stay in.
TREND = ("velocity", "acceleration")


def parse_terms(params: Mapping[str, str]) -> list[str]:
    text = params.get("terms") or ""
    terms = [word.strip() for word in text.split(",") if word.strip()]
    unknown = [word for word in terms if word not in MODEL_TERMS]
    if unknown:
        raise ValidationError(
            {"terms": f"unknown term {unknown[0][:40]!r}; choose from {', '.join(MODEL_TERMS)}"}
        )
    return sorted(set(terms), key=MODEL_TERMS.index)


def parse_step(params: Mapping[str, str], dataset: Dataset) -> datetime.date | None:
    try:
        step = parse_date(params, "step")
    except AnalysisError as error:
        raise ValidationError(error.as_dict()) from None
    if step is None:
        return None
    dates = dataset.acquisition_dates
    if not dates or not dates[0] < step <= dates[-1]:
        first, last = (dates[0], dates[-1]) if dates else ("…", "…")
        raise ValidationError({"step": f"{step} is not after {first} and by {last}"})
    return step


def step_years(dataset: Dataset, step: datetime.date | None) -> float | None:
    if step is None:
        return None
    return (step - dataset.acquisition_dates[0]).days / 365.25


def covariance(design: np.ndarray, used: np.ndarray, residual_std: float) -> np.ndarray | None:
    """Covariance of the coefficients, (GᵀG)⁻¹ σ², over the dates used (None if singular)."""
    rows = design[used]
    try:
        return np.linalg.inv(rows.T @ rows) * residual_std**2
    except np.linalg.LinAlgError:
        return None


def parameters(
    names: list[str], coefficients: np.ndarray, stds: np.ndarray, cov: np.ndarray | None
) -> list[dict]:
    """Each coefficient with its std and unit; the seasonal amplitude after its sin and cos."""
    found = [
        {"name": name, "value": rounded(value, 4), "std": rounded(std, 4), "unit": UNITS[name]}
        for name, value, std in zip(names, coefficients, stds, strict=True)
    ]
    if "seasonal_sin" in names:
        s, c = names.index("seasonal_sin"), names.index("seasonal_cos")
        amplitude = float(np.hypot(coefficients[s], coefficients[c]))
        std = np.nan
        if cov is not None and amplitude > 0:
            # First-order propagation through A = sqrt(s² + c²), with the sin-cos covariance.
            gradient = np.array([coefficients[s], coefficients[c]]) / amplitude
            block = cov[np.ix_([s, c], [s, c])]
            std = float(np.sqrt(gradient @ block @ gradient))
        found.append(
            {
                "name": "seasonal_amplitude",
                "value": rounded(amplitude, 4),
                "std": rounded(std, 4),
                "unit": "mm",
            }
        )
    return found


def fit_point(
    dataset: Dataset,
    values: np.ndarray,
    use: np.ndarray | None,
    terms: list[str],
    step: datetime.date | None,
) -> dict:
    """The fit's body (no dates or displacements): parameters, fitted curve, detrended series."""
    years = dataset_years(dataset)
    design, names = model_design(years, terms, step_years(dataset, step))
    window = np.ones(len(years), dtype=bool) if use is None else use
    used = window & np.isfinite(values)
    if step is not None and len(set(design[used, -1])) < 2:
        raise ValidationError({"step": f"{step} must fall inside the dates fitted"})
    fit = least_squares(values[np.newaxis, :], design, window)
    coefficients, stds = fit.coefficients[0], fit.stds[0]
    solved = bool(np.isfinite(coefficients).all())
    cov = covariance(design, used, float(fit.residual_std[0])) if solved else None
    fitted = np.where(window, design @ coefficients, np.nan)
    trend_columns = [names.index(name) for name in TREND if name in names]
    trend = design[:, trend_columns] @ coefficients[trend_columns]
    return {
        "terms": terms + (["step"] if step else []),
        "columns": names,
        "step": step and step.isoformat(),
        "parameters": parameters(names, coefficients, stds, cov),
        "fitted": json_floats(fitted),
        "residual_std_mm": rounded(fit.residual_std[0]),
        "count": int(fit.count[0]),
        "detrended": json_floats(values - trend),
    }


@extend_schema(
    parameters=[*MODEL_PARAMETERS, *ANALYSIS_PARAMETERS],
    responses={200: OpenApiTypes.OBJECT, **error_responses(404)},
    summary="A chosen model (acceleration, seasonal, step) fitted to a point's series",
)
@api_view(["GET"])
def point_model(request: Request, point_id: int) -> Response:
    point, dataset, view = analysed_point(request, point_id)
    terms = parse_terms(request.query_params)
    step = parse_step(request.query_params, dataset)
    body = fit_point(dataset, view.values, view.use, terms, step)
    return Response(
        {
            "id": point.pk,
            "dataset": dataset.slug,
            **body,
            "dates": [date.isoformat() for date in dataset.acquisition_dates],
            "displacements": json_floats(view.values),
            "period": view.period,
            "reference": view.reference_body,
            "replica_mm": round(dataset.wavelength_m * 1000 / 2, 2),
            "units": {"displacements": "mm", "time": "years since the first date"},
        }
    )
