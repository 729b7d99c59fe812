"""A point's series as the user asked to see it: minus a reference, with a period velocity.

One place for point detail, plots, CSV and the model endpoint, so that `start`, `end`,
`reference` and `reference_area` mean the same on each (groundmotion/analysis.py defines them).
Units: displacements mm, velocities mm/yr, dates ISO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

import numpy as np
from rest_framework.exceptions import ValidationError

from groundmotion.access import AnyUser
from groundmotion.analysis import (
    Analysis,
    AnalysisError,
    Reference,
    analysed_series,
    dataset_years,
    parse_analysis,
    period_mask,
    resolve_reference,
)
from groundmotion.models import Dataset
from processing.kernels.analysis import period_velocity


def rounded(value: float, digits: int = 3) -> float | None:
    return round(float(value), digits) if np.isfinite(value) else None


@dataclass(frozen=True)
class PointView:
    analysis: Analysis
    reference: Reference | None
    use: np.ndarray | None  # the period's acquisitions; None = no period
    values: np.ndarray  # displacements minus the reference series, mm
    period: dict | None
    reference_body: dict | None

    def comment_lines(self) -> list[str]:
        """What a CSV or a plot says about the reference and the period."""
        lines = []
        if self.reference_body:
            body = self.reference_body
            lines.append(
                f"reference: {body['label']} (its series subtracted; its velocity"
                f" {body['velocity']} mm/yr)"
            )
        if self.period:
            body = self.period
            lines.append(
                f"period {body['start'] or '…'} to {body['end'] or '…'}: velocity"
                f" {body['velocity']} ± {body['velocity_std']} mm/yr over {body['count']}"
                " acquisitions"
            )
        return lines


def raise_as_400(error: AnalysisError) -> NoReturn:
    raise ValidationError(error.as_dict()) from None


def resolve(
    user: AnyUser, dataset: Dataset, params: Mapping[str, str]
) -> tuple[Analysis, Reference | None, np.ndarray | None]:
    """(analysis, reference, period mask) of the request; 400 {field: message} if unusable."""
    try:
        analysis = parse_analysis(params)
        use = period_mask(dataset, analysis)
        reference = resolve_reference(user, dataset, analysis)
    except AnalysisError as error:
        raise_as_400(error)
    return analysis, reference, use


def reference_body(reference: Reference | None, velocity: float | None) -> dict | None:
    if reference is None:
        return None
    relative = np.nan if velocity is None else velocity - reference.velocity
    return {
        "label": reference.label,
        "point_id": reference.point_id,
        "velocity": rounded(reference.velocity),
        "count": reference.count,
        "relative_velocity": rounded(relative),
    }


def period_dates(dataset: Dataset, analysis: Analysis, use: np.ndarray) -> dict:
    """The period asked and the acquisitions it holds."""
    dates = [date for date, kept in zip(dataset.acquisition_dates, use, strict=True) if kept]
    return {
        "start": analysis.start and analysis.start.isoformat(),
        "end": analysis.end and analysis.end.isoformat(),
        "first_date": dates[0].isoformat(),
        "last_date": dates[-1].isoformat(),
        "count": len(dates),
    }


def period_body(
    dataset: Dataset, analysis: Analysis, values: np.ndarray, use: np.ndarray | None
) -> dict | None:
    """Straight-line velocity (mm/yr) and its std over the period's acquisitions; `count` is
    the acquisitions with a value."""
    if use is None:
        return None
    velocity, std, count = period_velocity(values[np.newaxis, :], dataset_years(dataset), use)
    return {
        **period_dates(dataset, analysis, use),
        "velocity": rounded(velocity[0]),
        "velocity_std": rounded(std[0]),
        "count": int(count[0]),
    }


def point_view(
    user: AnyUser,
    dataset: Dataset,
    values: np.ndarray,
    velocity: float | None,
    params: Mapping[str, str],
) -> PointView:
    """The point's displacements (mm) re-referenced, with the period and reference blocks."""
    analysis, reference, use = resolve(user, dataset, params)
    analysed = analysed_series(values[np.newaxis, :], reference)[0]
    return PointView(
        analysis,
        reference,
        use,
        analysed,
        period_body(dataset, analysis, analysed, use),
        reference_body(reference, velocity),
    )
