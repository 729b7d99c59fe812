"""The summed displacement series of every cell (CellSeries), built beside the cells.

A period, two-date or re-referenced cell tile needs each cell's mean series, and a z <= 10
tile covers up to millions of points: reading them per tile is far too slow. The slope is
linear in the data, so for gap-free series the mean of the points' period slopes is the
slope of their mean series; the mean series is sums / counts per date, summed up the pyramid
exactly as the cells' velocity sums are (cells.py), reduced pyramid included: its leaves are
normal cells of at least min_points points, each coarser reduced cell the sum of the finer.

Built in numpy from the same points as the cells (an anonymous user's aggregatable points:
masked ones never contribute), read in chunks through a server-side cursor so that memory
stays bounded by the cells, not the points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db import connection

from groundmotion.storage import partitions, series_codec
from groundmotion.storage.tables import CELL_SERIES_TABLE, SERIES_TABLE

FETCH_ROWS = 50_000
CELLS_PER_TILE = 64


@dataclass
class Level:
    """Cells of one level: indexes, point counts, summed series (mm) and values per date."""

    columns: np.ndarray
    rows: np.ndarray
    points: np.ndarray
    sums: np.ndarray
    counts: np.ndarray

    @classmethod
    def empty(cls, dates: int) -> Level:
        none = np.empty(0, dtype=np.int64)
        return cls(none, none, none, np.empty((0, dates)), np.empty((0, dates), dtype=np.int64))

    def select(self, keep: np.ndarray) -> Level:
        return Level(
            self.columns[keep],
            self.rows[keep],
            self.points[keep],
            self.sums[keep],
            self.counts[keep],
        )


def grouped(levels: list[Level], dates: int) -> Level:
    """One Level summing the cells of `levels` that share (column, row)."""
    levels = [level for level in levels if len(level.columns)]
    if not levels:
        return Level.empty(dates)
    columns = np.concatenate([level.columns for level in levels])
    rows = np.concatenate([level.rows for level in levels])
    keys = (columns << 32) | rows
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])

    def summed(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values[order], starts, axis=0)

    return Level(
        columns[order][starts],
        rows[order][starts],
        summed(np.concatenate([level.points for level in levels])),
        summed(np.concatenate([level.sums for level in levels])),
        summed(np.concatenate([level.counts for level in levels])),
    )


def coarser(level: Level, dates: int) -> Level:
    halved = Level(level.columns // 2, level.rows // 2, level.points, level.sums, level.counts)
    return grouped([halved], dates)


def finest_cells(indexed_sql: str, params: tuple, dates: int, dataset_id: int) -> Level:
    """Sum the series of `indexed_sql`'s points (columns id, column_index, row_index: the
    finest cell of each, computed as cells.py computes it) per cell, chunk by chunk."""
    series = partitions.dataset_rows(SERIES_TABLE, dataset_id)
    sql = (
        "SELECT p.column_index, p.row_index, s.displacements"
        f" FROM ({indexed_sql}) AS p JOIN {series} s ON s.point_id = p.id"
    )
    parts: list[Level] = []
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH_ROWS):
            columns = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            cell_rows = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
            series = series_codec.decode_many([row[2] for row in rows], dates)
            present = np.isfinite(series)
            chunk = Level(
                columns,
                cell_rows,
                np.ones(len(rows), dtype=np.int64),
                np.where(present, series, 0.0).astype(np.float64),
                present.astype(np.int64),
            )
            # Grouping each chunk at once keeps memory to the cells, not the points.
            parts = [grouped([*parts, grouped([chunk], dates)], dates)]
    return parts[0] if parts else Level.empty(dates)


def write(cursor: object, dataset_id: int, zoom: int, level: Level) -> None:
    if not len(level.columns):
        return
    sums = level.sums.astype("<f4")
    counts = level.counts.astype("<i4")
    sql = (
        f"COPY {CELL_SERIES_TABLE} (dataset_id, zoom, tile_x, tile_y, cell_column, cell_row,"
        " sums, counts) FROM STDIN"
    )
    with cursor.copy(sql) as copy:
        for i in range(len(level.columns)):
            column, row = int(level.columns[i]), int(level.rows[i])
            copy.write_row(
                (
                    dataset_id,
                    zoom,
                    column // CELLS_PER_TILE,
                    row // CELLS_PER_TILE,
                    column,
                    row,
                    sums[i].tobytes(),
                    counts[i].tobytes(),
                )
            )


def refresh_cell_series(
    dataset_id: int,
    indexed_sql: str,
    params: tuple,
    finest: int,
    dates: int,
    reduced: tuple,
    min_points: int,
    reduced_offset: int,
) -> None:
    """Rebuild the dataset's cell series: every normal level from `finest` to 0, and the
    reduced pyramid `reduced` (cells.ReducedLevel, top down) at reduced_offset + level. Runs
    inside the caller's transaction (cells.refresh_cells)."""
    normal = {finest: finest_cells(indexed_sql, params, dates, dataset_id)}
    for zoom in range(finest, 0, -1):
        normal[zoom - 1] = coarser(normal[zoom], dates)
    built: dict[int, Level] = {}
    for level in reversed(reduced):
        parts = []
        if level.level < reduced[-1].level:
            parts.append(coarser(built[level.level + 1], dates))
        cells = normal[level.level]
        for row_min, row_max in level.leaf_rows():
            keep = (cells.rows >= row_min) & (cells.rows < row_max) & (cells.points >= min_points)
            parts.append(cells.select(keep))
        built[level.level] = grouped(parts, dates)
    raw = connection.connection
    with raw.cursor() as cursor:
        cursor.execute(f"DELETE FROM {CELL_SERIES_TABLE} WHERE dataset_id = %s", [dataset_id])
        for zoom, level in normal.items():
            write(cursor, dataset_id, zoom, level)
        for level_number, level in built.items():
            write(cursor, dataset_id, reduced_offset + level_number, level)
