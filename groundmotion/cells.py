"""Pre-aggregated cells per zoom level, the content of every tile below the point zoom.

A web-mercator tile of zoom z is split into CELLS_PER_TILE x CELLS_PER_TILE cells, so a cell
tile never carries more than 4,096 features whatever the data. The finest level is built from
the points in one pass in PostGIS; each coarser level is built from the one above it (sums and
counts, so means stay exact), which costs a fraction of the first pass.

Cells come from access.aggregatable_points of an anonymous user: masked points never
contribute to any cell, and one table serves every user. refresh_cells runs from
bulk.refresh_summary (every loader) and whenever masked areas change.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.db.models import F

from groundmotion import access
from groundmotion.models import Dataset, MaskedArea
from groundmotion.partitions import POINT_TABLE

CELLS_PER_TILE = 64
# Web-mercator world width, metres (EPSG:3857).
WORLD_WIDTH_M = 40075016.685578488
HALF_WORLD_M = WORLD_WIDTH_M / 2
EARTH_RADIUS_M = 6378137.0  # of EPSG:3857's sphere
CELL_TABLE = "groundmotion_tilecell"
# Reduced-resolution datasets show anonymous users no cell smaller than this.
REDUCED_MINIMUM_CELL_M = 500.0


def cell_size_m(zoom: int) -> float:
    """Cell edge at a zoom level, metres in EPSG:3857."""
    return WORLD_WIDTH_M / (2**zoom) / CELLS_PER_TILE


def finest_level() -> int:
    """The finest stored level: the zoom just below the point zoom."""
    return max(settings.GROUNDMOTION["POINT_ZOOM"] - 1, 0)


def reduced_level() -> int:
    """The finest level whose cells are at least REDUCED_MINIMUM_CELL_M wide."""
    level = math.floor(math.log2(WORLD_WIDTH_M / CELLS_PER_TILE / REDUCED_MINIMUM_CELL_M))
    return min(level, finest_level())


def insert_finest_level_sql(points_sql: str) -> str:
    """Aggregate the points of `points_sql` (columns x, y in EPSG:3857 metres) into cells."""
    return f"""
        INSERT INTO {CELL_TABLE} (dataset_id, zoom, tile_x, tile_y, cell_column, cell_row,
            count, velocity_sum, velocity_count, coherence_sum, coherence_count)
        SELECT %(dataset)s, %(zoom)s, column_index / {CELLS_PER_TILE},
            row_index / {CELLS_PER_TILE}, column_index, row_index, count(*),
            coalesce(sum(velocity), 0), count(velocity),
            coalesce(sum(coherence), 0), count(coherence)
        FROM (
            SELECT floor((x + {HALF_WORLD_M}) / %(size)s)::int AS column_index,
                   floor(({HALF_WORLD_M} - y) / %(size)s)::int AS row_index,
                   velocity, coherence
            FROM ({points_sql}) AS points
        ) AS indexed
        GROUP BY column_index, row_index
    """


COARSER_LEVEL_SQL = f"""
    INSERT INTO {CELL_TABLE} (dataset_id, zoom, tile_x, tile_y, cell_column, cell_row,
        count, velocity_sum, velocity_count, coherence_sum, coherence_count)
    SELECT dataset_id, zoom - 1, cell_column / 2 / {CELLS_PER_TILE},
        cell_row / 2 / {CELLS_PER_TILE}, cell_column / 2, cell_row / 2, sum(count),
        sum(velocity_sum), sum(velocity_count), sum(coherence_sum), sum(coherence_count)
    FROM {CELL_TABLE}
    WHERE dataset_id = %(dataset)s AND zoom = %(zoom)s
    GROUP BY dataset_id, zoom, cell_column / 2, cell_row / 2
"""


def aggregatable_points_sql(dataset: Dataset) -> tuple[str, tuple]:
    """SQL of the anonymous user's aggregatable points, projected to EPSG:3857 metres."""
    points = access.aggregatable_points(AnonymousUser(), dataset, check_masks_first=True)
    sql, params = points.values("geom", "velocity", "temporal_coherence").query.sql_with_params()
    # Spherical web-mercator formulas: what ST_Transform(geom, 3857) computes, without PROJ.
    projected = (
        f"SELECT {EARTH_RADIUS_M} * radians(ST_X(p.geom)) AS x,"
        f" {EARTH_RADIUS_M} * ln(tan(pi() / 4 + radians(ST_Y(p.geom)) / 2)) AS y,"
        f" p.velocity, p.temporal_coherence AS coherence FROM ({sql}) AS p"
    )
    return projected, params


def refresh_cells(dataset: Dataset, table: str = POINT_TABLE) -> None:
    """Rebuild every level of the dataset's cells, in one transaction.

    `table` is where the points are: a staged partition (partitions.stage) is not yet part of
    the points table, so the access SQL is pointed at it by name.
    """
    points_sql, points_params = aggregatable_points_sql(dataset)
    points_sql = points_sql.replace(f'"{POINT_TABLE}"', f'"{table}"')
    finest = finest_level()
    # The access SQL carries positional %s parameters; the named ones go in by value.
    insert_sql = insert_finest_level_sql(points_sql)
    insert_sql = insert_sql.replace("%(dataset)s", str(int(dataset.pk)))
    insert_sql = insert_sql.replace("%(zoom)s", str(finest))
    insert_sql = insert_sql.replace("%(size)s", repr(cell_size_m(finest)))
    with transaction.atomic(), connection.cursor() as cursor:
        # Enough memory to group a few million points by cell in a hash, not a sort on disk.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(f"DELETE FROM {CELL_TABLE} WHERE dataset_id = %s", [dataset.pk])
        cursor.execute(insert_sql, points_params)
        for zoom in range(finest, 0, -1):
            cursor.execute(COARSER_LEVEL_SQL, {"dataset": dataset.pk, "zoom": zoom})


def refresh_datasets(dataset_ids: Iterable[int]) -> int:
    """Rebuild the cells of these datasets and bump their versions; the number bumped.

    What a masked-area change needs (the admin calls it): cells must drop or regain the points
    under the mask, and the new version invalidates cached tiles.
    """
    datasets = list(Dataset.objects.filter(pk__in=set(dataset_ids)))
    for dataset in datasets:
        refresh_cells(dataset)
    return Dataset.objects.filter(pk__in=[dataset.pk for dataset in datasets]).update(
        version=F("version") + 1
    )


def refresh_masked_datasets(mask: MaskedArea) -> list[Dataset]:
    """Refresh the cells and bump the version of every dataset a masked area touches.

    A mask with no datasets applies to all of them. Returns the datasets refreshed.
    """
    datasets = list(mask.datasets.all()) or list(Dataset.objects.all())
    refresh_datasets(dataset.pk for dataset in datasets)
    return datasets
