"""Point plots (PNG, SVG) drawn with matplotlib's object API: no pyplot global state.

The axis words come from groundmotion/quantities.py: an L3 up-down plot says up-down.
"""

from __future__ import annotations

import datetime
import io

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from groundmotion.api.series import FittedModel
from groundmotion.quantities import Quantity

CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
# Round tick values only: 1, 2, 2.5 or 5 times a power of ten.
NICE_STEPS = [1, 2, 2.5, 5, 10]


def point_plot(
    *,
    title: str,
    quantity: Quantity,
    dates: list[datetime.date],
    displacements: np.ndarray,
    model: FittedModel | None,
    image_format: str,
    period: np.ndarray | None = None,
) -> bytes:
    """The series (mm) with error bars of the residual std, the fitted model and units;
    `period` (a mask over dates) is shaded."""
    # Constrained layout makes room for the axis labels and title: nothing is clipped.
    figure = Figure(figsize=(8, 4), dpi=100, layout="constrained")
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
        label=f"{quantity['short']} displacement",
    )
    if model:
        axes.plot(dates, model["fitted"], color="#c0392b", linewidth=1.5, label="fitted model")
    if period is not None and period.any():
        kept = [date for date, inside in zip(dates, period, strict=True) if inside]
        axes.axvspan(kept[0], kept[-1], color="#f5b041", alpha=0.18, label="period")
    axes.set_title(title, fontsize=10, wrap=True)
    axes.set_xlabel("date")
    axes.set_ylabel(quantity["displacement_label"])
    axes.yaxis.set_major_locator(MaxNLocator(nbins="auto", steps=NICE_STEPS))
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    for label in axes.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")
    buffer = io.BytesIO()
    # SVG text stays text (searchable, selectable) rather than glyph outlines.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(
            buffer, format=image_format, metadata={"Date": None} if image_format == "svg" else None
        )
    return buffer.getvalue()
