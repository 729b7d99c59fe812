"""Pre-aggregated cells per zoom level, the content of every tile below the point zoom.

A web-mercator tile of zoom z is split into CELLS_PER_TILE x CELLS_PER_TILE cells, so a cell
tile never carries more than 4,096 features whatever the data. The finest level is built from
the points in one pass in PostGIS; each coarser level is built from the one above it (sums and
counts, so means stay exact), which costs a fraction of the first pass.

Cells come from access.aggregatable_points of an anonymous user: masked points never
contribute to any cell, and one table serves every user. refresh_cells runs from
copy_in.refresh_summary (every loader) and whenever masked areas change.

Reduced resolution: anonymous users of a reduced dataset see a second pyramid,
stored beside the first at zoom REDUCED_ZOOM_OFFSET + level, whose cells are at least
GROUNDMOTION['REDUCED_CELL_M'] on the ground and hold at least ['REDUCED_MIN_POINTS'] points.
Why a pyramid of its own rather than hiding small cells at serving time: a coarse cell minus
its published children would give back the points of a hidden child. Its leaves are normal
cells with enough points, at the finest level whose cells pass the floor at their latitude (a
Mercator cell is cos(latitude) times its EPSG:3857 size on the ground); every coarser reduced
cell is the sum of the leaves inside it, so no difference of published cells reveals more than
a leaf. It is built for every dataset, so that a change of visibility needs no rebuild; a
change of either setting does (refresh_datasets).
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import F, Max, Min, Sum

from groundmotion import access, static_tile_jobs
from groundmotion.models import Dataset, MaskedArea, TileCell
from groundmotion.storage import cell_series
from groundmotion.storage.tables import CELL_TABLE, POINT_TABLE

CELLS_PER_TILE = 64
# Web-mercator world width, metres (EPSG:3857).
WORLD_WIDTH_M = 40075016.685578488
HALF_WORLD_M = WORLD_WIDTH_M / 2
EARTH_RADIUS_M = 6378137.0  # of EPSG:3857's sphere
# Defaults of GROUNDMOTION['REDUCED_CELL_M'] and ['REDUCED_MIN_POINTS']: what anonymous users
# see of a reduced dataset is no finer than this on the ground, nor fewer points per cell.
REDUCED_MINIMUM_CELL_M = 500
REDUCED_MINIMUM_POINTS = 5
# The reduced pyramid's level L is stored as zoom REDUCED_ZOOM_OFFSET + L (real zooms are 0-22).
REDUCED_ZOOM_OFFSET = 100
# WGS84 first eccentricity squared: the ellipsoid's meridian arcs are at least (1 - e2) times
# the sphere's of radius EARTH_RADIUS_M (at the equator), its parallels never shorter.
WGS84_E2 = 0.00669437999014
LATITUDE_LIMIT = 85.0511287798  # of EPSG:3857, where the top row of level 0 begins


def cell_size_m(zoom: int) -> float:
    """Cell edge at a zoom level, metres in EPSG:3857."""
    return WORLD_WIDTH_M / (2**zoom) / CELLS_PER_TILE


def finest_level() -> int:
    """The finest stored level: the zoom just below the point zoom."""
    return max(settings.GROUNDMOTION["POINT_ZOOM"] - 1, 0)


def reduced_cell_m() -> int:
    """The ground size below which no reduced cell goes, metres."""
    return settings.GROUNDMOTION.get("REDUCED_CELL_M", REDUCED_MINIMUM_CELL_M)


def reduced_min_points() -> int:
    """The fewest points a reduced cell may summarise; smaller cells are withheld."""
    return settings.GROUNDMOTION.get("REDUCED_MIN_POINTS", REDUCED_MINIMUM_POINTS)


def mercator_latitude(fraction_from_top: float) -> float:
    """Latitude in degrees of a web-mercator row given as a fraction of the world from the top
    (the inverse of mercator_fraction)."""
    fraction = min(max(fraction_from_top, 0.0), 1.0)
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * fraction))))


def row_edge_latitude(level: int, edge: int) -> float:
    """Latitude in degrees of the top edge of cell row `edge` of a level (rows from the top)."""
    return mercator_latitude(edge / (CELLS_PER_TILE * 2**level))


def ground_edge_m(level: int, row: int) -> float:
    """A lower bound of the ground width and height of the cells of a row, metres.

    EPSG:3857 stretches the ground by 1/cos(latitude), so a cell is cos(latitude) times
    cell_size_m on the ground, least at its edge farther from the equator; (1 - e2) covers the
    ellipsoid's shorter meridian arcs.
    """
    poleward_edge = row if row < CELLS_PER_TILE * 2**level // 2 else row + 1
    latitude = math.radians(row_edge_latitude(level, poleward_edge))
    return cell_size_m(level) * math.cos(latitude) * (1 - WGS84_E2)


# The largest floor the pyramid can honour: level 0's cells at the top of the map.
MAX_REDUCED_CELL_M = math.floor(ground_edge_m(0, 0))


@dataclass(frozen=True)
class ReducedLevel:
    """One level of the reduced pyramid, in rows symmetric about the equator.

    Rows [first_row, rows - first_row) have reduced cells at this level. Those in
    [split_row, rows - split_row) are split: both their halves pass the floor at the next
    level, which holds their leaves. The others are leaves of this level.
    """

    level: int
    first_row: int
    split_row: int

    @property
    def rows(self) -> int:
        return CELLS_PER_TILE * 2**self.level

    def reached_rows(self) -> tuple[int, int]:
        """[start, stop) of the rows with reduced cells at this level."""
        return self.first_row, self.rows - self.first_row

    def leaf_rows(self) -> list[tuple[int, int]]:
        """[start, stop) of this level's leaf rows, north then south, the empty ones left out."""
        north = (self.first_row, self.split_row)
        south = (self.rows - self.split_row, self.rows - self.first_row)
        return [rows for rows in (north, south) if rows[0] < rows[1]]


def first_split_row(level: int, first_row: int, floor_m: int) -> int:
    """The first northern row from first_row whose halves both pass the floor at level + 1.

    The northern half, nearer the pole, is the narrower and decides. Ground sizes only grow
    towards the equator, so the split rows run from the answer to the equator.
    """

    def passes(row: int) -> bool:
        return ground_edge_m(level + 1, 2 * row) >= floor_m

    rows = range(first_row, CELLS_PER_TILE * 2**level // 2)
    return first_row + bisect.bisect_left(rows, True, key=passes)


@functools.lru_cache(maxsize=16)
def reduced_pyramid(floor_m: int, finest: int) -> tuple[ReducedLevel, ...]:
    """The reduced pyramid's levels from 0 to the finest with any row, top down.

    A row is split only when both halves pass, so the leaves tile the map without overlap,
    and a leaf passes because its parent split. Level 0 passes when floor_m is at most
    MAX_REDUCED_CELL_M (apps.validate_settings).
    """
    levels: list[ReducedLevel] = []
    first_row = 0
    for level in range(finest + 1):
        half = CELLS_PER_TILE * 2**level // 2
        split_row = half if level == finest else first_split_row(level, first_row, floor_m)
        levels.append(ReducedLevel(level, first_row, split_row))
        if split_row == half:
            break
        first_row = 2 * split_row
    return tuple(levels)


def reduced_levels() -> tuple[ReducedLevel, ...]:
    return reduced_pyramid(reduced_cell_m(), finest_level())


def reduced_tile_level(zoom: int, y: int) -> int:
    """The reduced level of tile row y: the leaf level at its edge farther from the equator.

    Leaves only get finer towards the equator, so every row of the tile has reduced cells at
    that level, each at least the floor on the ground (the worst case is that edge).
    """
    edge = min(y, 2**zoom - 1 - y)  # mirrored to the north: the pyramid is symmetric
    levels = reduced_levels()
    return next(r.level for r in levels if (edge * r.rows) >> zoom < r.split_row)


def mercator_fraction(latitude: float) -> float:
    """How far down the map a latitude is, 0 at the top and 1 at the bottom (EPSG:3857)."""
    latitude = math.radians(min(max(latitude, -LATITUDE_LIMIT), LATITUDE_LIMIT))
    return (1 - math.asinh(math.tan(latitude)) / math.pi) / 2


def reduced_level(latitude: float = 0.0) -> int:
    """The reduced level of a place at this latitude (the finest, at the equator)."""
    zoom = 30  # a tile row of a few centimetres
    return reduced_tile_level(zoom, int(mercator_fraction(abs(latitude)) * 2**zoom))


def reduced_extent(
    extent: tuple[float, float, float, float],
) -> tuple[float, float, float, float]:
    """The extent (west, south, east, north, degrees) widened to whole reduced cells.

    The level is that of its edge farther from the equator, so every cell inside passes the
    floor: an anonymous user learns nothing finer from the extent than from the tiles.
    """
    west, south, east, north = extent
    level = reduced_level(max(abs(south), abs(north)))
    per_world = CELLS_PER_TILE * 2**level

    def index(fraction: float) -> int:
        return min(max(math.floor(fraction * per_world), 0), per_world - 1)

    first_column, last_column = index((west + 180) / 360), index((east + 180) / 360)
    first_row, last_row = index(mercator_fraction(north)), index(mercator_fraction(south))
    return (
        first_column / per_world * 360 - 180,
        row_edge_latitude(level, last_row + 1),
        (last_column + 1) / per_world * 360 - 180,
        row_edge_latitude(level, first_row),
    )


# The level of the tile cells a summary is taken from when masks hide points (~600 m cells).
SUMMARY_LEVEL = 10


def summary_from_cells(dataset: Dataset) -> tuple[int, tuple[float, float, float, float] | None]:
    """(point count, extent west, south, east, north) of the dataset's cells, the extent padded
    to whole cells of SUMMARY_LEVEL (or the finest level, if coarser): built without masked
    points, so it reveals none of them."""
    stored = TileCell.objects.filter(dataset=dataset)
    count = stored.filter(zoom=0).aggregate(total=Sum("count"))["total"] or 0
    level = min(SUMMARY_LEVEL, finest_level())
    bounds = stored.filter(zoom=level, count__gt=0).aggregate(
        west=Min("cell_column"),
        east=Max("cell_column"),
        north=Min("cell_row"),
        south=Max("cell_row"),
    )
    if bounds["west"] is None:
        return count, None
    per_world = CELLS_PER_TILE * 2**level
    extent = (
        bounds["west"] / per_world * 360.0 - 180.0,
        row_edge_latitude(level, bounds["south"] + 1),
        (bounds["east"] + 1) / per_world * 360.0 - 180.0,
        row_edge_latitude(level, bounds["north"]),
    )
    return count, extent


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


# The leaves of the reduced pyramid at one level and in one range of rows: the normal cells with
# enough points. A mean over fewer points than that (points without a velocity or coherence) is
# left out with its sum, so that no coarser cell carries it either.
REDUCED_LEAF_SQL = f"""
    INSERT INTO {CELL_TABLE} (dataset_id, zoom, tile_x, tile_y, cell_column, cell_row,
        count, velocity_sum, velocity_count, coherence_sum, coherence_count)
    SELECT dataset_id, zoom + {REDUCED_ZOOM_OFFSET}, tile_x, tile_y, cell_column, cell_row, count,
        CASE WHEN velocity_count >= %(min_points)s THEN velocity_sum ELSE 0 END,
        CASE WHEN velocity_count >= %(min_points)s THEN velocity_count ELSE 0 END,
        CASE WHEN coherence_count >= %(min_points)s THEN coherence_sum ELSE 0 END,
        CASE WHEN coherence_count >= %(min_points)s THEN coherence_count ELSE 0 END
    FROM {CELL_TABLE}
    WHERE dataset_id = %(dataset)s AND zoom = %(zoom)s AND count >= %(min_points)s
      AND cell_row >= %(row_min)s AND cell_row < %(row_max)s
"""


def refresh_reduced_cells(cursor: CursorWrapper, dataset_id: int) -> None:
    """Build the reduced pyramid from the normal cells, finest level first.

    Each level is the sum of the finer reduced level (in its split rows) plus its own leaves.
    """
    levels = reduced_levels()
    min_points = reduced_min_points()
    for reduced in reversed(levels):
        if reduced.level < levels[-1].level:
            finer = REDUCED_ZOOM_OFFSET + reduced.level + 1
            cursor.execute(COARSER_LEVEL_SQL, {"dataset": dataset_id, "zoom": finer})
        for row_min, row_max in reduced.leaf_rows():
            cursor.execute(
                REDUCED_LEAF_SQL,
                {
                    "dataset": dataset_id,
                    "zoom": reduced.level,
                    "min_points": min_points,
                    "row_min": row_min,
                    "row_max": row_max,
                },
            )


def aggregatable_points_sql(dataset: Dataset) -> tuple[str, tuple]:
    """SQL of the anonymous user's aggregatable points, projected to EPSG:3857 metres."""
    points = access.aggregatable_points(AnonymousUser(), dataset, check_masks_first=True)
    values = points.values("id", "geom", "velocity", "temporal_coherence")
    sql, params = values.query.sql_with_params()
    # Spherical web-mercator formulas: what ST_Transform(geom, 3857) computes, without PROJ.
    projected = (
        f"SELECT p.id, {EARTH_RADIUS_M} * radians(ST_X(p.geom)) AS x,"
        f" {EARTH_RADIUS_M} * ln(tan(pi() / 4 + radians(ST_Y(p.geom)) / 2)) AS y,"
        f" p.velocity, p.temporal_coherence AS coherence FROM ({sql}) AS p"
    )
    return projected, params


def refresh_cells(dataset: Dataset, table: str = POINT_TABLE) -> None:
    """Rebuild every level of the dataset's cells, normal and reduced, in one transaction.

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
        refresh_reduced_cells(cursor, dataset.pk)
        refresh_series_of_cells(dataset, points_sql, points_params)


def refresh_series_of_cells(dataset: Dataset, points_sql: str, points_params: tuple) -> None:
    """The summed series of the same cells (storage/cell_series.py), for period tiles."""
    if not dataset.acquisition_dates:
        return
    size = repr(cell_size_m(finest_level()))
    indexed_sql = (
        f"SELECT p.id, floor((p.x + {HALF_WORLD_M}) / {size})::int AS column_index,"
        f" floor(({HALF_WORLD_M} - p.y) / {size})::int AS row_index FROM ({points_sql}) AS p"
    )
    cell_series.refresh_cell_series(
        dataset.pk,
        indexed_sql,
        tuple(points_params),
        finest_level(),
        len(dataset.acquisition_dates),
        reduced_levels(),
        reduced_min_points(),
        REDUCED_ZOOM_OFFSET,
    )


def refresh_datasets(dataset_ids: Iterable[int]) -> int:
    """Rebuild the cells of these datasets and bump their versions; the number bumped.

    What a masked-area change needs (the admin calls it): cells must drop or regain the points
    under the mask, and the new version invalidates cached tiles.
    """
    datasets = list(Dataset.objects.filter(pk__in=set(dataset_ids)))
    for dataset in datasets:
        refresh_cells(dataset)
    ids = [dataset.pk for dataset in datasets]
    bumped = Dataset.objects.filter(pk__in=ids).update(version=F("version") + 1)
    static_tile_jobs.rebuild_archives(ids)  # Masks changed: the static tiles follow.
    return bumped


def refresh_masked_datasets(mask: MaskedArea) -> list[Dataset]:
    """Refresh the cells and bump the version of every dataset a masked area touches.

    A mask with no datasets applies to all of them. Returns the datasets refreshed.
    """
    datasets = list(mask.datasets.all()) or list(Dataset.objects.all())
    refresh_datasets(dataset.pk for dataset in datasets)
    return datasets
