"""Reading back what a test stored, as plain arrays to compare with an independent truth."""

from __future__ import annotations

import numpy as np

from groundmotion.models import Dataset, MeasurementPoint

LOS = ("los_east", "los_north", "los_up")


def point_columns(dataset: Dataset, order: str = "id") -> dict:
    """The dataset's points in `order` (a field name): id, pid, lon, lat, velocity, the LOS
    vectors as an (n, 3) array ("los") and by component ("los_by_name", {"los_east": ...})."""
    rows = list(
        MeasurementPoint.objects.filter(dataset=dataset)
        .order_by(order)
        .values_list("id", "pid", "geom", "velocity", *LOS)
    )
    los = np.array([row[4:7] for row in rows], dtype=float).reshape(len(rows), 3)
    return {
        "id": np.array([row[0] for row in rows]),
        "pid": np.array([row[1] for row in rows]),
        "lon": np.array([row[2].x for row in rows]),
        "lat": np.array([row[2].y for row in rows]),
        "velocity": np.array([row[3] for row in rows]),
        "los": los,
        "los_by_name": {name: los[:, index] for index, name in enumerate(LOS)},
    }
