"""Mapbox Vector Tiles built in PostGIS with ST_AsMVT: cells below the point zoom, points above.

Every tile is one SQL statement whose access predicates come from groundmotion/access.py: the
access queryset is compiled with query.sql_with_params() (once per process, dataset and kind
of user; masks are read by the statement itself) and wrapped in ST_AsMVT, so a tile can never
show what the API would hide. Tiles are at most FEATURE_CAP features whatever the data:
cell tiles by construction (64 x 64 cells and a ring of neighbours), point tiles by a stride
derived from the pre-aggregated counts (uniform thinning, served by partial indexes) plus a
LIMIT as the guard. Anonymous users of a reduced dataset get the reduced pyramid's cells
(cells.py), at a level chosen per tile by its latitude.

Optimization: velocities are rounded to 0.1 mm/yr and coherences to 0.01 in tiles (the API
gives exact values), so MVT's value table deduplicates them and tiles shrink about threefold.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from groundmotion import access, cells
from groundmotion.access import AnyUser
from groundmotion.models import Dataset, Visibility
from groundmotion.storage.compiled import server_bound_cursor
from groundmotion.storage.replicas import read_alias, read_connection

MAX_ZOOM = 22
TILE_EXTENT = 4096
# Points within this many tile pixels outside the tile are kept, so symbols are not cut.
TILE_BUFFER = 64
FEATURE_CAP = 10_000
# The stride aims below the cap so that the LIMIT guard almost never has to cut.
STRIDE_TARGET = 8_000
CONTENT_TYPE = "application/vnd.mapbox-vector-tile"


@dataclass(frozen=True)
class TileAddress:
    zoom: int
    x: int
    y: int

    def is_valid(self) -> bool:
        return (
            0 <= self.zoom <= MAX_ZOOM and 0 <= self.x < 2**self.zoom and 0 <= self.y < 2**self.zoom
        )

    def lonlat_bounds(self, buffer_pixels: int = TILE_BUFFER) -> tuple[float, float, float, float]:
        """The tile's bounds plus a buffer: west, south, east, north in WGS84 degrees.

        Optimization: the query filters the stored 4326 column against this box, so the GiST
        index is used; projecting every point to 3857 before filtering could not use it.
        """
        tiles = 2**self.zoom
        margin = buffer_pixels / TILE_EXTENT
        west = (self.x - margin) / tiles * 360.0 - 180.0
        east = (self.x + 1 + margin) / tiles * 360.0 - 180.0
        north = cells.mercator_latitude((self.y - margin) / tiles)
        south = cells.mercator_latitude((self.y + 1 + margin) / tiles)
        return west, south, east, north


@dataclass(frozen=True)
class TileKind:
    """What a user gets at a tile: points (and whether masked ones), or cells of a level, from
    the reduced pyramid (cells.py) with the floor and minimum it was asked with."""

    points: bool
    masked: bool = False
    level: int = 0
    reduced: bool = False
    floor_m: int = 0
    min_points: int = 0

    @property
    def name(self) -> str:
        """Part of the cache keys and ETag: reduced cells never share one with normal cells of
        the same level, and a change of either reduced setting takes new keys."""
        if self.points:
            return "points-masked" if self.masked else "points"
        if self.reduced:
            return f"reduced-{self.level}-{self.floor_m}m-{self.min_points}"
        return f"cells-{self.level}"


def tile_kind(user: AnyUser, dataset: Dataset, zoom: int, y: int = 0) -> TileKind:
    """The tile content the user may see at tile (zoom, row y) (the dataset is already visible).

    The row sets a reduced tile's level (cells pass the floor at the tile's latitude); the
    default, the top row, gives the coarsest level, which passes in any row.
    """
    sees_points = access.sees_points(user, dataset)
    if sees_points and zoom >= settings.GROUNDMOTION["POINT_ZOOM"]:
        return TileKind(points=True, masked=access.sees_masked_points(user))
    if not sees_points and dataset.visibility == Visibility.REDUCED:
        level = min(zoom, cells.reduced_tile_level(zoom, y))
        return TileKind(
            points=False,
            level=level,
            reduced=True,
            floor_m=cells.reduced_cell_m(),
            min_points=cells.reduced_min_points(),
        )
    return TileKind(points=False, level=min(zoom, cells.finest_level()))


# Cells of level L seen from a tile of zoom z >= L: a level-L cell spans `scale` = 2^(z-L)
# cells of zoom z. Geometry is built directly in tile pixels (no ST_AsMVTGeom, no projection):
# centre in zoom-z cell units, minus the tile's first cell, times pixels per cell.
# The lookup is an equality on the whole (dataset, zoom, tile_x, tile_y) index.
CELL_TILE_TEMPLATE = f"""
SELECT ST_AsMVT(features, 'cells', {TILE_EXTENT}, 'geom') FROM (
    SELECT ST_Point(((cell_column + 0.5) * %(scale)s - %(first_column)s) * %(pixels)s,
                    ((cell_row + 0.5) * %(scale)s - %(first_row)s) * %(pixels)s) AS geom,
           count,
           round((velocity_sum / {{velocity_count}})::numeric, 1)::real AS velocity,
           round((coherence_sum / {{coherence_count}})::numeric, 2)::real AS coherence
    FROM {cells.CELL_TABLE}
    WHERE dataset_id = %(dataset)s AND zoom = {{zoom}}
      AND tile_x = ANY(%(tile_xs)s) AND tile_y = ANY(%(tile_ys)s)
      AND cell_column >= %(column_min)s AND cell_column < %(column_max)s
      AND cell_row >= %(row_min)s AND cell_row < %(row_max)s{{withheld}}
) AS features
"""
CELL_TILE_SQL = CELL_TILE_TEMPLATE.format(
    velocity_count="NULLIF(velocity_count, 0)",
    coherence_count="NULLIF(coherence_count, 0)",
    zoom="%(level)s",
    withheld="",
)
# Anonymous users of a reduced dataset: the reduced pyramid. Its build already leaves out cells
# and means of fewer than min_points points; checked again here, so that a raised minimum holds
# at once, before the cells are rebuilt.
REDUCED_CELL_TILE_SQL = CELL_TILE_TEMPLATE.format(
    velocity_count="CASE WHEN velocity_count >= %(min_points)s THEN velocity_count END",
    coherence_count="CASE WHEN coherence_count >= %(min_points)s THEN coherence_count END",
    zoom="%(reduced_zoom)s",
    withheld="\n      AND count >= %(min_points)s",
)
# Cells this many cells beyond a tile's edges go in too, drawn partly outside it: the viewer
# draws each tile on its own canvas, and a cell's disc at the edge would otherwise be cut in
# half, with the other half missing from the neighbouring tile.
CELL_BUFFER = 1


def cell_window(address: TileAddress, level: int) -> dict[str, int | float]:
    """Index ranges and pixel transform of the level-`level` cells inside a tile."""
    shift = address.zoom - level
    scale = 2**shift
    per_tile = cells.CELLS_PER_TILE
    return {
        "level": level,
        "scale": scale,
        "tile_x": address.x >> shift,
        "tile_y": address.y >> shift,
        "first_column": address.x * per_tile,
        "first_row": address.y * per_tile,
        "pixels": TILE_EXTENT // per_tile,
        "column_min": (address.x * per_tile) // scale,
        "column_max": -(-((address.x + 1) * per_tile) // scale),
        "row_min": (address.y * per_tile) // scale,
        "row_max": -(-((address.y + 1) * per_tile) // scale),
    }


def buffered_cell_window(
    address: TileAddress, level: int, rows: tuple[int, int] | None = None
) -> dict[str, object]:
    """cell_window widened by CELL_BUFFER cells on every side, with the level tiles it spans;
    its rows kept within `rows` ([start, stop)) when given.

    The level tiles go in as arrays: the index answers `tile_x = ANY(...) AND tile_y = ANY(...)`
    with one probe per pair, each a range on (cell_row, cell_column), where a range on tile_x
    would read whole columns of level tiles.
    """
    window = cell_window(address, level)
    per_tile = cells.CELLS_PER_TILE
    for low, high in (("column_min", "column_max"), ("row_min", "row_max")):
        window[low] -= CELL_BUFFER
        window[high] += CELL_BUFFER
    if rows is not None:
        window["row_min"] = max(window["row_min"], rows[0])
        window["row_max"] = min(window["row_max"], rows[1])
    window["tile_xs"] = list(
        range(window["column_min"] // per_tile, (window["column_max"] - 1) // per_tile + 1)
    )
    window["tile_ys"] = list(
        range(window["row_min"] // per_tile, (window["row_max"] - 1) // per_tile + 1)
    )
    return window


# Points: the access rules' SQL (access.visible_points_sql, its parameters inlined) is
# wrapped; the tile box and pixel transform are inlined numbers.
# Optimization: tile pixels are computed directly from longitude and latitude with the
# spherical web-mercator formulas (no PROJ call, no ST_AsMVTGeom): a lon/lat box is a mercator
# rectangle, so every point the box filter lets through is inside the tile plus its buffer.
# Dense tiles are thinned with mod(id, stride) = 0, the stride a power of 4 inlined as a
# literal: PostgreSQL pushes the condition into the subquery and answers from the matching
# partial GiST index (point_geom_stride_*, migration 0005), reading ~1/stride of the points.
# A point's tile pixels, column then row: what POINT_TILE_SQL draws and analysis_tiles reads.
POINT_PIXELS_SQL = f"""
    round(((ST_X(p.geom) + 180.0) / 360.0 * {{tiles}} - {{x}}) * {TILE_EXTENT}),
    round(((1.0 - ln(tan(radians(ST_Y(p.geom))) + 1.0 / cos(radians(ST_Y(p.geom))))
            / pi()) / 2.0 * {{tiles}} - {{y}}) * {TILE_EXTENT})"""
# The tile's visible points: the box, the thinning and the cap (point_window fills them in).
POINT_WINDOW_SQL = f"""FROM ({{points}}) AS p{{join}}
    WHERE p.geom && ST_MakeEnvelope({{west}}, {{south}}, {{east}}, {{north}}, 4326)
      AND {{thinning}}
    LIMIT {FEATURE_CAP}"""
POINT_TILE_SQL = f"""
SELECT ST_AsMVT(features, 'points', {TILE_EXTENT}, 'geom', 'id') FROM (
    SELECT p.id, ST_Point({POINT_PIXELS_SQL}) AS geom,
           round({{velocity}}::numeric, 1)::real AS velocity,
           round(p.temporal_coherence::numeric, 2)::real AS coherence
    {POINT_WINDOW_SQL}
) AS features
"""
# The point count of a tile from the finest cells (one index lookup), for the stride.
TILE_POINT_COUNT_SQL = f"""
SELECT coalesce(sum(count), 0) FROM {cells.CELL_TABLE}
WHERE dataset_id = %(dataset)s AND zoom = %(level)s AND tile_x = %(tile_x)s
  AND tile_y = %(tile_y)s AND cell_column >= %(column_min)s AND cell_column < %(column_max)s
  AND cell_row >= %(row_min)s AND cell_row < %(row_max)s
"""
# Each stride above 1 has its partial index; beyond the last, the LIMIT guard cuts.
STRIDES = (1, 4, 16, 64, 256, 1024)


def stride_for(point_count: int) -> int:
    """The smallest stride that brings the tile to STRIDE_TARGET points or fewer."""
    for stride in STRIDES:
        if point_count <= STRIDE_TARGET * stride:
            return stride
    return STRIDES[-1]


def point_stride(dataset: Dataset, address: TileAddress) -> int:
    """The stride of a point tile, from the pre-aggregated counts of the finest cells.

    The count is an index-only scan (migration 0008) run as a prepared statement (compiled.py),
    so it is planned once per connection, not per tile.
    """
    window = cell_window(address, min(cells.finest_level(), address.zoom))
    with server_bound_cursor(read_alias()) as cursor:
        cursor.execute(TILE_POINT_COUNT_SQL, {"dataset": dataset.pk, **window})
        return stride_for(int(cursor.fetchone()[0]))


def point_tile_sql(
    user: AnyUser,
    dataset: Dataset,
    address: TileAddress,
    stride: int,
    velocity_offset: float | None = None,
) -> str:
    """The point tile's whole statement (access rules, box, thinning), with no parameters;
    velocities minus `velocity_offset` when given (a reference point's velocity).

    Every inlined value is an int or float computed here, or SQL composed by the driver.
    """
    velocity = "p.velocity"
    if velocity_offset is not None:
        offset = float(velocity_offset)
        velocity = f"(p.velocity - {offset!r})" if math.isfinite(offset) else "NULL::real"
    return POINT_TILE_SQL.format(**point_window(user, dataset, address, stride), velocity=velocity)


def point_window(
    user: AnyUser,
    dataset: Dataset,
    address: TileAddress,
    stride: int,
    extra: tuple[str, ...] = (),
    join: str = "",
) -> dict[str, object]:
    """The values POINT_PIXELS_SQL and POINT_WINDOW_SQL are formatted with: the access SQL
    (with the `extra` point columns, and `join` after it), the tile, its box and the
    thinning."""
    west, south, east, north = address.lonlat_bounds()
    # A literal from STRIDES (never user input): the planner must see it to pick the index.
    thinning = "true" if stride == 1 else f"mod(p.id, {int(stride)}) = 0"
    # str.format does not read the braces of what it inserts, so the access SQL goes in as is.
    return {
        "points": access.visible_points_sql(user, dataset, extra),
        "tiles": 2**address.zoom,
        "x": int(address.x),
        "y": int(address.y),
        "west": repr(west),
        "south": repr(south),
        "east": repr(east),
        "north": repr(north),
        "thinning": thinning,
        "join": join,
    }


def reduced_cell_parameters(
    dataset: Dataset, address: TileAddress, kind: TileKind
) -> dict[str, object]:
    """REDUCED_CELL_TILE_SQL's parameters: the window kept to the rows where the reduced level
    passes the floor under the current setting (the ring beyond the tile's polar edge may not),
    whatever floor the stored cells were built with."""
    reduced = cells.reduced_pyramid(kind.floor_m, cells.finest_level())
    rows = reduced[kind.level].reached_rows() if kind.level < len(reduced) else (0, 0)
    window = buffered_cell_window(address, kind.level, rows)
    return {
        "dataset": dataset.pk,
        "reduced_zoom": cells.REDUCED_ZOOM_OFFSET + kind.level,
        "min_points": kind.min_points,
        **window,
    }


def statement_settings() -> str:
    """SET LOCALs sent in the same message as each tile statement.

    Optimization: no parallel workers. Starting them cost ~10 ms per tile on a 2-core machine
    (a median z13-16 tile: 22 ms with them, 9 ms without, in one process on the bench data),
    far more than they save on the few thousand rows a thinned tile reads.
    """
    timeout = int(settings.GROUNDMOTION["TILE_STATEMENT_TIMEOUT_MS"])
    return (
        f"SET LOCAL statement_timeout = {timeout}; SET LOCAL max_parallel_workers_per_gather = 0;"
    )


def skip_results(cursor: object, prefix: str) -> None:
    """Move past the results of the statements in `prefix` to the last statement's."""
    for _ in range(prefix.count(";")):
        cursor.nextset()


def render_tile(user: AnyUser, dataset: Dataset, address: TileAddress, kind: TileKind) -> bytes:
    """The tile's MVT bytes (empty when nothing is there), under a statement timeout."""
    # Optimization: no BEGIN / COMMIT round trips. Each message holds the SET LOCALs and one
    # statement; PostgreSQL runs a multi-statement message as one implicit transaction, so the
    # settings cover that statement and end with the message (they never leak to later
    # queries on this persistent connection). Inside a caller's transaction a savepoint keeps
    # a cancelled tile from aborting that transaction.
    prefix = statement_settings()
    database = read_connection()
    atomic = database.in_atomic_block
    nested = transaction.atomic(using=database.alias) if atomic else contextlib.nullcontext()
    with nested, database.cursor() as cursor:
        if kind.points:
            stride = point_stride(dataset, address)
            cursor.execute(prefix + point_tile_sql(user, dataset, address, stride))
        elif kind.reduced:
            parameters = reduced_cell_parameters(dataset, address, kind)
            cursor.execute(prefix + REDUCED_CELL_TILE_SQL, parameters)
        else:
            window = buffered_cell_window(address, kind.level)
            cursor.execute(prefix + CELL_TILE_SQL, {"dataset": dataset.pk, **window})
        skip_results(cursor, prefix)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
