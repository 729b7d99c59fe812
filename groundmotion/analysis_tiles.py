"""Tiles of an analysis (groundmotion/analysis.py): velocity over a period, relative to a
reference, displacement between two dates, the changes layer.

Same tiles, layers and access rules as tiles.py; only the numbers differ:
- points: the tile's visible points are read with their series (the same access SQL, box,
  stride and LIMIT as a plain tile), fitted in numba (processing/kernels/analysis.py) and
  written back to PostGIS as arrays for ST_AsMVT. A reference alone needs no series: the
  plain statement with the reference's velocity subtracted in SQL;
- cells: the window's cells are read with their summed series (storage/cell_series.py); the
  mean series of each is fitted, so a period cell costs one small fit whatever its points.

Attributes: `velocity` (mm/yr: the period's slope if a period, else the stored velocity, minus
the reference's), `coherence`, `displacement` (mm, with from/to), `change` (mm/yr: period minus
whole-window velocity) and, for points, `change_sigma` (the change over the two stds combined);
with changes=k only points with |change_sigma| >= k are drawn.
"""

from __future__ import annotations

import numpy as np
from django.db import connection

from groundmotion import access, analysis, tiles
from groundmotion.access import AnyUser
from groundmotion.analysis import Analysis, Reference
from groundmotion.models import Dataset
from groundmotion.storage import series_codec
from groundmotion.storage.tables import CELL_SERIES_TABLE, CELL_TABLE, SERIES_TABLE
from processing.kernels.analysis import period_velocity

TILE_EXTENT = tiles.TILE_EXTENT

# The points of a tile with what a fit needs; the box, stride and cap as in POINT_TILE_SQL.
POINT_ROWS_SQL = f"""
SELECT p.id,
       round(((ST_X(p.geom) + 180.0) / 360.0 * {{tiles}} - {{x}}) * {TILE_EXTENT}),
       round(((1.0 - ln(tan(radians(ST_Y(p.geom))) + 1.0 / cos(radians(ST_Y(p.geom))))
               / pi()) / 2.0 * {{tiles}} - {{y}}) * {TILE_EXTENT}),
       p.temporal_coherence, p.velocity, p.velocity_std, s.displacements
FROM ({{points}}) AS p LEFT JOIN {SERIES_TABLE} s ON s.point_id = p.id
WHERE p.geom && ST_MakeEnvelope({{west}}, {{south}}, {{east}}, {{north}}, 4326)
  AND {{thinning}}
LIMIT {tiles.FEATURE_CAP}
"""

# Computed features back into PostGIS for the same encoder as every other tile.
POINT_MVT_SQL = f"""
SELECT ST_AsMVT(features, 'points', {TILE_EXTENT}, 'geom', 'id') FROM (
    SELECT id, ST_Point(x, y) AS geom, velocity, coherence, displacement, change, change_sigma
    FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::real[], %s::real[], %s::real[],
                %s::real[], %s::real[]) AS t(id, x, y, velocity, coherence, displacement,
                                             change, change_sigma)
) AS features
"""
CELL_MVT_SQL = f"""
SELECT ST_AsMVT(features, 'cells', {TILE_EXTENT}, 'geom') FROM (
    SELECT ST_Point(x, y) AS geom, count, velocity, coherence, displacement, change
    FROM unnest(%s::float8[], %s::float8[], %s::int[], %s::real[], %s::real[], %s::real[],
                %s::real[]) AS t(x, y, count, velocity, coherence, displacement, change)
) AS features
"""

# The window's cells with their summed series; the coherence and velocity means as the plain
# cell tile computes them (reduced: only over enough points).
CELL_ROWS_TEMPLATE = f"""
SELECT c.cell_column, c.cell_row, c.count,
       c.velocity_sum / {{velocity_count}}, c.coherence_sum / {{coherence_count}},
       cs.sums, cs.counts
FROM {CELL_TABLE} c JOIN {CELL_SERIES_TABLE} cs
  ON cs.dataset_id = c.dataset_id AND cs.zoom = c.zoom AND cs.tile_x = c.tile_x
 AND cs.tile_y = c.tile_y AND cs.cell_row = c.cell_row AND cs.cell_column = c.cell_column
WHERE c.dataset_id = %(dataset)s AND c.zoom = {{zoom}}
  AND c.tile_x = ANY(%(tile_xs)s) AND c.tile_y = ANY(%(tile_ys)s)
  AND c.cell_column >= %(column_min)s AND c.cell_column < %(column_max)s
  AND c.cell_row >= %(row_min)s AND c.cell_row < %(row_max)s{{withheld}}
"""
CELL_ROWS_SQL = CELL_ROWS_TEMPLATE.format(
    velocity_count="NULLIF(c.velocity_count, 0)",
    coherence_count="NULLIF(c.coherence_count, 0)",
    zoom="%(level)s",
    withheld="",
)
REDUCED_CELL_ROWS_SQL = CELL_ROWS_TEMPLATE.format(
    velocity_count="CASE WHEN c.velocity_count >= %(min_points)s THEN c.velocity_count END",
    coherence_count="CASE WHEN c.coherence_count >= %(min_points)s THEN c.coherence_count END",
    zoom="%(reduced_zoom)s",
    withheld="\n  AND c.count >= %(min_points)s",
)


def rounded(values: np.ndarray, digits: int) -> list[float | None]:
    """Rounded as the plain tiles round, NaN as NULL (ST_AsMVT leaves the attribute out)."""
    values = np.round(np.asarray(values, dtype=np.float64), digits)
    return [None if not np.isfinite(value) else float(value) for value in values]


class Measures:
    """What an analysis asks of a set of series, computed once: velocity, displacement,
    change and its sigma, each an array (NaN where unknown) or None when not asked."""

    def __init__(
        self,
        dataset: Dataset,
        asked: Analysis,
        reference: Reference | None,
        series: np.ndarray,
        velocity: np.ndarray,
        velocity_std: np.ndarray | None = None,
    ) -> None:
        mask = analysis.period_mask(dataset, asked)
        pair = analysis.date_pair(dataset, asked)
        offset = reference.velocity if reference is not None else 0.0
        whole = np.asarray(velocity, dtype=np.float64) - offset
        needs_series = mask is not None or pair is not None
        values = analysis.analysed_series(series, reference) if needs_series else None
        self.velocity = whole
        self.displacement = self.change = self.change_sigma = None
        if mask is not None:
            self.velocity, period_std, _ = period_velocity(
                values, analysis.dataset_years(dataset), mask
            )
            self.change = self.velocity - whole
            if velocity_std is not None:
                stored_std = np.nan_to_num(np.asarray(velocity_std, dtype=np.float64), nan=0.0)
                combined = np.sqrt(period_std**2 + stored_std**2)
                with np.errstate(divide="ignore", invalid="ignore"):
                    self.change_sigma = np.where(combined > 0, self.change / combined, np.nan)
        if pair is not None:
            self.displacement = values[:, pair[1]] - values[:, pair[0]]


def render_points(
    user: AnyUser,
    dataset: Dataset,
    address: tiles.TileAddress,
    asked: Analysis,
    reference: Reference | None,
) -> bytes:
    if asked.has_reference and not (asked.has_period or asked.has_dates):
        return render_referenced_points(user, dataset, address, reference)
    stride = tiles.point_stride(dataset, address)
    west, south, east, north = address.lonlat_bounds()
    sql = POINT_ROWS_SQL.format(
        points=access.visible_points_sql(user, dataset, ("velocity_std",)),
        tiles=2**address.zoom,
        x=int(address.x),
        y=int(address.y),
        west=repr(west),
        south=repr(south),
        east=repr(east),
        north=repr(north),
        thinning="true" if stride == 1 else f"mod(p.id, {int(stride)}) = 0",
    )
    prefix = tiles.statement_settings()
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql)
        tiles.skip_results(cursor, prefix)
        rows = cursor.fetchall()
    if not rows:
        return b""
    date_count = len(dataset.acquisition_dates)
    missing = series_codec.encode(np.full((1, date_count), np.nan))[0][0].tobytes()
    series = series_codec.decode_many([row[6] or missing for row in rows], date_count)
    measures = Measures(
        dataset,
        asked,
        reference,
        series,
        np.array([np.nan if row[4] is None else row[4] for row in rows]),
        np.array([np.nan if row[5] is None else row[5] for row in rows]),
    )
    keep = np.ones(len(rows), dtype=bool)
    if asked.changes is not None and measures.change_sigma is not None:
        keep = np.abs(np.nan_to_num(measures.change_sigma, nan=0.0)) >= asked.changes
    main = measures.displacement if measures.displacement is not None else measures.velocity
    keep &= np.isfinite(main)
    if not keep.any():
        return b""
    picked = [row for row, kept in zip(rows, keep, strict=True) if kept]
    size = len(picked)

    def column(name: str, digits: int = 1) -> list[float | None]:
        values = getattr(measures, name)
        return rounded(values[keep], digits) if values is not None else [None] * size

    return encode(
        POINT_MVT_SQL,
        [
            [row[0] for row in picked],
            [float(row[1]) for row in picked],
            [float(row[2]) for row in picked],
            column("velocity"),
            rounded(np.array([np.nan if r[3] is None else r[3] for r in picked]), 2),
            column("displacement"),
            column("change"),
            column("change_sigma", 2),
        ],
    )


def render_referenced_points(
    user: AnyUser, dataset: Dataset, address: tiles.TileAddress, reference: Reference
) -> bytes:
    """The plain point statement with the reference's velocity subtracted in SQL."""
    stride = tiles.point_stride(dataset, address)
    sql = tiles.point_tile_sql(user, dataset, address, stride, velocity_offset=reference.velocity)
    prefix = tiles.statement_settings()
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql)
        tiles.skip_results(cursor, prefix)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def render_cells(
    user: AnyUser,
    dataset: Dataset,
    address: tiles.TileAddress,
    kind: tiles.TileKind,
    asked: Analysis,
    reference: Reference | None,
) -> bytes:
    if kind.reduced:
        parameters = tiles.reduced_cell_parameters(dataset, address, kind)
        sql = REDUCED_CELL_ROWS_SQL
    else:
        parameters = {"dataset": dataset.pk, **tiles.buffered_cell_window(address, kind.level)}
        sql = CELL_ROWS_SQL
    prefix = tiles.statement_settings()
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, parameters)
        tiles.skip_results(cursor, prefix)
        rows = cursor.fetchall()
    if not rows:
        return b""
    date_count = len(dataset.acquisition_dates)
    sums = np.frombuffer(b"".join(bytes(row[5]) for row in rows), dtype="<f4")
    counts = np.frombuffer(b"".join(bytes(row[6]) for row in rows), dtype="<i4")
    sums = sums.reshape(len(rows), date_count).astype(np.float64)
    counts = counts.reshape(len(rows), date_count)
    mean = np.full(sums.shape, np.nan)
    np.divide(sums, counts, out=mean, where=counts > 0)
    velocity = np.array([np.nan if row[3] is None else row[3] for row in rows])
    measures = Measures(dataset, asked, reference, mean, velocity)
    main = measures.displacement if measures.displacement is not None else measures.velocity
    keep = np.isfinite(main)
    if not keep.any():
        return b""
    scale, pixels = parameters["scale"], parameters["pixels"]
    columns = np.array([row[0] for row in rows], dtype=np.float64)[keep]
    cell_rows = np.array([row[1] for row in rows], dtype=np.float64)[keep]

    def column(name: str) -> list[float | None]:
        values = getattr(measures, name)
        return rounded(values[keep], 1) if values is not None else [None] * int(keep.sum())

    return encode(
        CELL_MVT_SQL,
        [
            (((columns + 0.5) * scale - parameters["first_column"]) * pixels).tolist(),
            (((cell_rows + 0.5) * scale - parameters["first_row"]) * pixels).tolist(),
            [int(row[2]) for row, kept in zip(rows, keep, strict=True) if kept],
            column("velocity"),
            rounded(np.array([np.nan if r[4] is None else r[4] for r in rows])[keep], 2),
            column("displacement"),
            column("change"),
        ],
    )


def encode(sql: str, arrays: list[list]) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def render_analysis_tile(
    user: AnyUser,
    dataset: Dataset,
    address: tiles.TileAddress,
    kind: tiles.TileKind,
    asked: Analysis,
    reference: Reference | None,
) -> bytes:
    """The tile's MVT bytes for an analysis that is not plain; the reference already resolved
    for this user (tile_views does it before any cache is read)."""
    if kind.points:
        return render_points(user, dataset, address, asked, reference)
    return render_cells(user, dataset, address, kind, asked, reference)
