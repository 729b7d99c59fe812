"""The aggregates and lookups the products and loaders ask of the point tables, by name.

Each returns plain numbers or arrays: no caller needs to know the tables or PostGIS.
"""

from __future__ import annotations

import numpy as np
from django.contrib.gis.db.models.functions import GeometryDistance
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection

from groundmotion.models import Dataset, MeasurementPoint
from groundmotion.storage.tables import POINT_TABLE, SERIES_TABLE


def velocities_around(dataset: Dataset, place: GEOSGeometry, radius_m: float) -> np.ndarray:
    """(velocity, velocity_std, los_east, los_north, los_up, lon, lat) of each of the
    dataset's points with a velocity within radius_m metres of a place (on the ellipsoid):
    (n, 7) float64, NaN for missing stds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT velocity, COALESCE(velocity_std, 'NaN'), los_east, los_north, los_up,"
            " ST_X(geom), ST_Y(geom)"
            f" FROM {POINT_TABLE} WHERE dataset_id = %s AND velocity IS NOT NULL"
            " AND ST_DWithin(geom::geography, ST_GeomFromEWKT(%s)::geography, %s)"
            " ORDER BY id",  # the fit's sums in one order, so a rerun gives the same bits
            [dataset.pk, place.ewkt, radius_m],
        )
        return np.array(cursor.fetchall(), dtype=np.float64).reshape(-1, 7)


def cell_mean_velocities(dataset: Dataset, cell_m: float) -> np.ndarray:
    """Per EPSG:3035 cell of cell_m metres holding points with a velocity: (column, row, mean
    velocity, mean longitude, mean latitude), an (n, 5) float64 array."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT floor(ST_X(laea) / %s)::bigint, floor(ST_Y(laea) / %s)::bigint,"
            " avg(velocity), avg(ST_X(geom)), avg(ST_Y(geom)) FROM (SELECT velocity, geom,"
            f" ST_Transform(geom, 3035) AS laea FROM {POINT_TABLE}"
            " WHERE dataset_id = %s AND velocity IS NOT NULL) AS points GROUP BY 1, 2",
            [cell_m, cell_m, dataset.pk],
        )
        return np.array(cursor.fetchall(), dtype=np.float64).reshape(-1, 5)


def points_per_cell_row(datasets: list[Dataset], cell_m: float) -> list[tuple[int, int]]:
    """(row, point count) of every EPSG:3035 row of cell_m-metre cells holding points of the
    datasets, south to north."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT floor(ST_Y(ST_Transform(geom, 3035)) / %s)::bigint AS row, count(*)"
            f" FROM {POINT_TABLE} WHERE dataset_id = ANY(%s) GROUP BY row ORDER BY row",
            [cell_m, [d.pk for d in datasets]],
        )
        return cursor.fetchall()


def nearest_pid(dataset: Dataset, place: GEOSGeometry) -> str | None:
    """The pid of the dataset's point nearest a place (KNN on the GiST index), None if none."""
    points = MeasurementPoint.objects.filter(dataset=dataset)
    return points.order_by(GeometryDistance("geom", place)).values_list("pid", flat=True).first()


def point_ids_of_pids(table: str, dataset: Dataset, pids: list[str]) -> dict[str, int]:
    """pid -> id of those pids already among the dataset's points in `table` (the points
    table, or a load's staged table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT pid, id FROM {table} WHERE dataset_id = %s AND pid = ANY(%s)",
            [dataset.pk, pids],
        )
        return dict(cursor.fetchall())


def analyze_point_tables() -> None:
    """Fresh planner statistics after a large load."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {POINT_TABLE}")
        cursor.execute(f"ANALYZE {SERIES_TABLE}")
