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
import psycopg
from django.db import transaction

from groundmotion import analysis, mvt, tiles
from groundmotion.access import AnyUser
from groundmotion.analysis import Analysis, Reference
from groundmotion.models import Dataset
from groundmotion.storage import partitions, series_codec
from groundmotion.storage.replicas import read_connection
from groundmotion.storage.tables import CELL_SERIES_TABLE, CELL_TABLE, SERIES_TABLE
from processing.kernels.analysis import period_velocity

TILE_EXTENT = tiles.TILE_EXTENT

# The points of a tile with what a fit needs: the plain point tile's pixels and window.
POINT_ROWS_SQL = f"""
SELECT p.id, {tiles.POINT_PIXELS_SQL},
       p.temporal_coherence, p.velocity, p.velocity_std, s.displacements
{tiles.POINT_WINDOW_SQL}
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


def rounded(values: np.ndarray | None, digits: int) -> np.ndarray | None:
    """Rounded as the plain tiles round (NaN stays NaN: the attribute is left out)."""
    return None if values is None else np.round(np.asarray(values, dtype=np.float64), digits)


def floats(values: list) -> np.ndarray:
    return np.array([np.nan if value is None else value for value in values], dtype=np.float64)


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
        values = series
        if needs_series and reference is not None:
            values = analysis.analysed_series(series, reference)
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
    dataset_series = partitions.dataset_rows(SERIES_TABLE, dataset.pk)
    series = f" LEFT JOIN {dataset_series} s ON s.point_id = p.id"
    window = tiles.point_window(user, dataset, address, stride, ("velocity_std",), series)
    sql = POINT_ROWS_SQL.format(**window)
    rows = binary_rows(sql)
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
        floats([row[4] for row in rows]),
        floats([row[5] for row in rows]),
    )
    keep = np.ones(len(rows), dtype=bool)
    if asked.changes is not None and measures.change_sigma is not None:
        keep = np.abs(np.nan_to_num(measures.change_sigma, nan=0.0)) >= asked.changes
    main = measures.displacement if measures.displacement is not None else measures.velocity
    keep &= np.isfinite(main)
    if not keep.any():
        return b""
    return mvt.encode_points(
        "points",
        floats([row[1] for row in rows])[keep],
        floats([row[2] for row in rows])[keep],
        {
            "velocity": rounded(measures.velocity[keep], 1),
            "coherence": rounded(floats([row[3] for row in rows])[keep], 2),
            "displacement": kept(measures.displacement, keep, 1),
            "change": kept(measures.change, keep, 1),
            "change_sigma": kept(measures.change_sigma, keep, 2),
        },
        ids=np.array([row[0] for row in rows], dtype=np.int64)[keep],
        extent=TILE_EXTENT,
    )


def binary_rows(sql: str) -> list[tuple]:
    """The rows of a statement under the tile settings, in binary.

    Optimization: Django's cursors bind client-side and read text, where a series comes as hex
    (two characters a byte); binary results halve a period tile's read (110 to 54 ms a z14
    tile on the bench data). Binary needs one statement per message, so the SET LOCALs go
    first, in a transaction of their own (a savepoint inside a caller's).
    """
    database = read_connection()
    with transaction.atomic(using=database.alias), database.cursor() as settings_cursor:
        settings_cursor.execute(tiles.statement_settings())
        with psycopg.Cursor(database.connection) as cursor:
            cursor.execute(sql, binary=True)
            return cursor.fetchall()


def kept(values: np.ndarray | None, keep: np.ndarray, digits: int) -> np.ndarray | None:
    return None if values is None else rounded(values[keep], digits)


def render_referenced_points(
    user: AnyUser, dataset: Dataset, address: tiles.TileAddress, reference: Reference
) -> bytes:
    """The plain point statement with the reference's velocity subtracted in SQL."""
    stride = tiles.point_stride(dataset, address)
    sql = tiles.point_tile_sql(user, dataset, address, stride, velocity_offset=reference.velocity)
    prefix = tiles.statement_settings()
    with read_connection().cursor() as cursor:
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
    with read_connection().cursor() as cursor:
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
    velocity = floats([row[3] for row in rows])
    measures = Measures(dataset, asked, reference, mean, velocity)
    main = measures.displacement if measures.displacement is not None else measures.velocity
    keep = np.isfinite(main)
    if not keep.any():
        return b""
    scale, pixels = parameters["scale"], parameters["pixels"]
    columns = np.array([row[0] for row in rows], dtype=np.float64)[keep]
    cell_rows = np.array([row[1] for row in rows], dtype=np.float64)[keep]
    return mvt.encode_points(
        "cells",
        ((columns + 0.5) * scale - parameters["first_column"]) * pixels,
        ((cell_rows + 0.5) * scale - parameters["first_row"]) * pixels,
        {
            "count": floats([row[2] for row in rows])[keep],
            "velocity": rounded(measures.velocity[keep], 1),
            "coherence": rounded(floats([row[4] for row in rows])[keep], 2),
            "displacement": kept(measures.displacement, keep, 1),
            "change": kept(measures.change, keep, 1),
        },
        extent=TILE_EXTENT,
    )


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
