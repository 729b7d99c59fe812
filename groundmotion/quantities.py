"""What a dataset's values measure, in words: the one source of every label and sign note.

L2a and L2b are line-of-sight (LOS) products: positive values move towards the satellite, and
the direction depends on the track (ascending looks east, descending west). L3 products are
east-west (positive east) or up-down (positive up) on the EGMS grid. Legends, chart axes,
popups, plots, CSV headers and GeoTIFF band descriptions all take their words from here.
"""

from __future__ import annotations

import datetime
from typing import TypedDict

from groundmotion.models import Component, Dataset, Level, PassDirection


class Quantity(TypedDict):
    component: str  # "los", "east-west" or "up-down"
    short: str  # "LOS ascending", "east-west", "up-down"
    positive: str  # "towards the satellite", "east", "up"
    negative: str  # "away from the satellite", "west", "down"
    velocity_label: str  # legend title: "LOS velocity (mm/yr)"
    displacement_label: str  # chart and plot axis: "LOS displacement, mm (+ towards satellite)"
    column: str  # CSV column stem: "los", "east_west", "up_down"
    sign_convention: str  # one sentence for API bodies, CSV comments and page notes


def quantity_for(level: str, component: str, pass_direction: str = "") -> Quantity:
    """The words for a product of this level, component and (for LOS) pass direction."""
    if component == Component.EAST_WEST:
        return Quantity(
            component=Component.EAST_WEST,
            short="east-west",
            positive="east",
            negative="west",
            velocity_label="East-west velocity (mm/yr)",
            displacement_label="East-west displacement, mm (+ east)",
            column="east_west",
            sign_convention="positive east-west displacement is towards the east",
        )
    if component == Component.UP_DOWN:
        return Quantity(
            component=Component.UP_DOWN,
            short="up-down",
            positive="up",
            negative="down",
            velocity_label="Vertical velocity (mm/yr)",
            displacement_label="Vertical displacement, mm (+ up)",
            column="up_down",
            sign_convention="positive up-down displacement is upwards (uplift)",
        )
    known = pass_direction in (PassDirection.ASCENDING, PassDirection.DESCENDING)
    track = f" {pass_direction}" if known else ""
    return Quantity(
        component=Component.LOS,
        short=f"LOS{track}",
        positive="towards the satellite",
        negative="away from the satellite",
        velocity_label=f"LOS{track} velocity (mm/yr)",
        displacement_label="LOS displacement, mm (+ towards satellite)",
        column="los",
        sign_convention="positive line-of-sight displacement is towards the satellite",
    )


def quantity(dataset: Dataset) -> Quantity:
    return quantity_for(dataset.level, dataset.component, dataset.pass_direction)


# For bodies that list datasets of every kind (each dataset's `quantity` gives its own).
SIGN_CONVENTIONS = "; ".join(
    quantity_for(level, component)["sign_convention"]
    for level, component in (
        (Level.L2A, Component.LOS),
        (Level.L3, Component.EAST_WEST),
        (Level.L3, Component.UP_DOWN),
    )
)


def level_label(level: str) -> str:
    """ "l2a" -> "L2a", as EGMS writes the levels."""
    return str(level)[:1].upper() + str(level)[1:]


EN_DASH = "\u2013"  # between years, as in "2020–2024"  # noqa: RUF003


def years_label(dates: list[datetime.date]) -> str:
    """ "2020-2024" (with an en dash) from the first and last dates, "" without dates."""
    if not dates:
        return ""
    first, last = dates[0].year, dates[-1].year
    return f"{first}{EN_DASH}{last}" if last != first else str(first)


def role_name(
    *,
    area: str,
    level: str,
    component: str,
    pass_direction: str = "",
    relative_orbit: int | None = None,
    dates: list[datetime.date] = (),
) -> str:
    """A dataset's name from its role: "Dax L2b ascending track 132, 2020-2024",
    "Dax L3 up-down 2020-2024" (area, level, track or component, years of the dates)."""
    years = years_label(list(dates))
    if component in (Component.EAST_WEST, Component.UP_DOWN):
        head, tail = f"{level_label(level)} {component}", f" {years}"
    else:
        track = f" track {relative_orbit}" if relative_orbit is not None else ""
        head, tail = f"{level_label(level)} {pass_direction or 'LOS'}{track}", f", {years}"
    return " ".join(filter(None, [area, head])) + (tail if years else "")
