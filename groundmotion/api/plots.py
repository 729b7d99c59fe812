"""Point plots (PNG, SVG) drawn with matplotlib's object API: no pyplot global state."""

from __future__ import annotations

import datetime
import io

import numpy as np
from matplotlib.figure import Figure

from groundmotion.api.series import FittedModel

SIGN_CONVENTION = "positive = towards the satellite"
CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def point_plot(
    *,
    title: str,
    dates: list[datetime.date],
    displacements: np.ndarray,
    model: FittedModel | None,
    image_format: str,
) -> bytes:
    """The series (mm) with error bars of the residual std, the fitted model and units."""
    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.add_subplot()
    error = model["residual_std_mm"] if model else None
    axes.errorbar(
        dates,
        displacements,
        yerr=error,
        fmt="o",
        markersize=3,
        elinewidth=0.6,
        color="#1f4e79",
        ecolor="#9bb7d4",
        label="LOS displacement",
    )
    if model:
        axes.plot(dates, model["fitted"], color="#c0392b", linewidth=1.5, label="fitted model")
    axes.set_title(title, fontsize=10)
    axes.set_xlabel("date")
    axes.set_ylabel(f"LOS displacement (mm), {SIGN_CONVENTION}")
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(
        buffer, format=image_format, metadata={"Date": None} if image_format == "svg" else None
    )
    return buffer.getvalue()
