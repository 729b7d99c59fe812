"""What a product is (level, pass, component, orbit, grid) from its name and first points, and
a name a person can read for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from groundmotion import egms
from groundmotion.ingest.chunk import Chunk
from groundmotion.ingest.errors import IngestError
from groundmotion.models import Component, Level, PassDirection
from groundmotion.quantities import EN_DASH, level_label, role_name


@dataclass
class Description:
    level: str
    pass_direction: str
    component: str
    relative_orbit: int | None = None
    grid_size_m: int | None = None
    name_parts: dict[str, Any] = field(default_factory=dict)


def parse_product_name(path: Path) -> dict[str, Any]:
    """The parts of an EGMS file name (level, track, burst, tile, component...), or {}."""
    for pattern in (egms.BURST_NAME, egms.TILE_NAME):
        match = pattern.search(path.name)
        if match:
            return match.groupdict()
    return {}


def describe(
    path: Path, first: Chunk, requested: dict[str, str | None], projected: bool
) -> Description:
    """Level, pass and component: the curator's choice, else the file name, else the data."""
    parts = parse_product_name(path)
    level = requested.get("level") or _guess_level(parts, first, projected)
    if level is None:
        raise IngestError(str(path), "cannot tell the product level: give --level")
    if level == Level.L3:
        component = requested.get("component") or egms.COMPONENT_LETTERS.get(
            str(parts.get("component", "")).upper()
        )
        if component is None:
            raise IngestError(str(path), "cannot tell the L3 component: give --component")
        grid = _grid_size(first) if projected else None
        return Description(Level.L3, PassDirection.NONE, component, None, grid, parts)
    pass_direction = requested.get("pass_direction") or _guess_pass(first)
    if pass_direction is None:
        raise IngestError(str(path), "cannot tell the pass (no los_east column): give --pass")
    orbit = int(parts["track"]) if "track" in parts else None
    return Description(level, pass_direction, Component.LOS, orbit, None, parts)


def _guess_level(parts: dict[str, Any], first: Chunk, projected: bool) -> str | None:
    if parts:
        return str(parts["level"]).lower()
    if projected:
        return Level.L3
    if "cluster_label" in first.extras:
        return Level.L2A
    return None


def _guess_pass(first: Chunk) -> str | None:
    """Ascending geometries look west-to-east with los_east < 0; descending los_east > 0."""
    east = first.attributes.get("los_east")
    if east is None or not np.isfinite(east).any():
        return None
    median = float(np.nanmedian(east))
    return PassDirection.ASCENDING if median < 0 else PassDirection.DESCENDING


def _grid_size(first: Chunk) -> int:
    """The cell size in metres: the smallest spacing between distinct cell-centre eastings."""
    eastings = np.unique(first.extras.get("easting", np.array([])))
    steps = np.diff(eastings)
    steps = steps[steps > 0.5]
    return round(float(steps.min())) if len(steps) else egms.L3_GRID_SIZE_M


def readable_name(
    files: list[str],
    *,
    level: str,
    pass_direction: str,
    component: str,
    relative_orbit: int | None = None,
    dates: list | tuple = (),
    area: str = "",
) -> str:
    """The dataset's name from its EGMS file names: "L2b ascending track 88, burst 0296 IW2,
    2019-2023", "L3 up-down E32N14, 2019-2023" (en dashes); other files get their role and
    the first file's stem: "L2a ascending, 2019-2023 (tre)"."""
    parts = [found for found in (parse_product_name(Path(name)) for name in files) if found]
    if not parts:
        role = role_name(
            area=area,
            level=level,
            component=component,
            pass_direction=pass_direction,
            relative_orbit=relative_orbit,
            dates=list(dates),
        )
        return f"{role} ({Path(files[0]).stem})" if files else role
    years = f"{min(p['first'] for p in parts)}{EN_DASH}{max(p['last'] for p in parts)}"
    if level == Level.L3:
        tiles = sorted({p["tile"].upper() for p in parts if "tile" in p})
        head = f"L3 {component} {', '.join(tiles)}"
    else:
        track = f" track {int(parts[0]['track'])}" if "track" in parts[0] else ""
        head = f"{level_label(level)} {pass_direction}{track}, {_bursts(parts)}"
    return " ".join(filter(None, [area, head])) + f", {years}"


def _bursts(parts: list[dict[str, Any]]) -> str:
    """ "burst 0296 IW2", "bursts 0282 IW1, 0282 IW2", or "9 bursts 0282-0284" (en dash)."""
    bursts = sorted({f"{p['burst']} IW{p['swath']}" for p in parts if "burst" in p})
    if len(bursts) == 1:
        return f"burst {bursts[0]}"
    if len(bursts) <= 3:
        return f"bursts {', '.join(bursts)}"
    numbers = sorted(p["burst"] for p in parts)
    return f"{len(bursts)} bursts {numbers[0]}{EN_DASH}{numbers[-1]}"
