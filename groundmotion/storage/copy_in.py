"""Points, series and extras into PostgreSQL with binary COPY, built from numpy buffers.

Moving data between PostgreSQL and numpy is the bottleneck, not the arithmetic: rows are never
formatted one by one in Python. Every function here runs inside the caller's transaction, so a
load either lands whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import psycopg
from django.db import connection

from groundmotion import cells
from groundmotion.models import EXTRA_DTYPE, Dataset
from groundmotion.storage import partitions, point_ids, series_codec
from groundmotion.storage.binary import COPY_HEADER, COPY_TRAILER
from groundmotion.storage.tables import (
    EXTRA_TABLE,
    POINT_FLOAT_COLUMNS,
    POINT_TABLE,
    SERIES_TABLE,
)

ROWS_PER_CHUNK = 50_000

SERIES_COLUMNS = ("point_id", "displacements")
EXTRA_COLUMNS = ("point_id", "values")


def pack_binary_rows(columns: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Pack rows in PostgreSQL's binary COPY format.

    Each column is (payload bytes as an n x width uint8 matrix, byte length per row); a
    length of -1 is NULL. Returns the packed rows as a uint8 array (no header or trailer).
    """
    return _pack(columns).data


@dataclass
class PackedRows:
    """Binary COPY rows whose leading key columns are filled in last.

    Ingest packs a block's rows in its parser thread, off the COPY's critical path, before the
    point ids are drawn (and, for the first block, before its dataset exists): `fill` then
    writes the id, each row's first field, and the dataset id, a points row's second field.
    """

    data: np.ndarray  # uint8
    starts: np.ndarray  # offset of each row in data

    # A row starts with its field count (2 bytes); each field with its byte length (4 bytes).
    ID_AT = 2 + 4
    DATASET_AT = ID_AT + 8 + 4

    def __len__(self) -> int:
        return len(self.starts)

    def select(self, keep: np.ndarray) -> PackedRows:
        """The rows where `keep` (booleans or indices) says so, in that order."""
        chosen = np.flatnonzero(keep) if keep.dtype == bool else np.asarray(keep)
        sizes = np.diff(np.append(self.starts, len(self.data)))[chosen]
        starts = np.cumsum(sizes) - sizes
        source = np.repeat(self.starts[chosen] - starts, sizes) + np.arange(int(sizes.sum()))
        return PackedRows(self.data[source], starts)

    def fill(self, ids: np.ndarray, dataset_id: int | None = None) -> np.ndarray:
        """The rows with these point ids (and dataset id, for points rows)."""
        as_bytes = np.asarray(ids, dtype=">i8").view(np.uint8).reshape(len(ids), 8)
        self.data[(self.starts + self.ID_AT)[:, None] + np.arange(8)] = as_bytes
        if dataset_id is not None:
            dataset = np.array([dataset_id], dtype=">i4").view(np.uint8)
            self.data[(self.starts + self.DATASET_AT)[:, None] + np.arange(4)] = dataset
        return self.data


def _pack(columns: list[tuple[np.ndarray, np.ndarray]]) -> PackedRows:
    n = len(columns[0][1])
    payload = [np.maximum(lengths, 0).astype(np.int64) for _, lengths in columns]
    row_size = 2 + sum(4 + size for size in payload)
    starts = np.cumsum(row_size) - row_size
    out = np.empty(int(row_size.sum()), dtype=np.uint8)
    field_count = np.array([len(columns)], dtype=">i2").view(np.uint8)
    out[starts[:, None] + np.arange(2)] = field_count
    position = starts + 2
    for (matrix, lengths), size in zip(columns, payload, strict=True):
        header = lengths.astype(">i4").view(np.uint8).reshape(n, 4)
        out[position[:, None] + np.arange(4)] = header
        width = matrix.shape[1]
        target = (position + 4)[:, None] + np.arange(width)
        if np.all(lengths == width):
            out[target] = matrix
        else:
            present = np.arange(width) < lengths[:, None]
            out[target[present]] = matrix[present]
        position += 4 + size
    return PackedRows(out, starts)


def fixed_column(values: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column in network byte order; NaN becomes NULL."""
    data = np.ascontiguousarray(values, dtype=dtype)
    width = data.dtype.itemsize
    lengths = np.full(len(data), width, dtype=np.int32)
    if data.dtype.kind == "f":
        lengths[np.isnan(data)] = -1
    return data.view(np.uint8).reshape(len(data), width), lengths


def text_column(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A text column from a numpy string array (UTF-8)."""
    encoded = np.char.encode(np.asarray(values, dtype=str), "utf-8")
    width = max(encoded.dtype.itemsize, 1)
    matrix = np.frombuffer(encoded.astype(f"S{width}").tobytes(), dtype=np.uint8)
    lengths = np.char.str_len(encoded).astype(np.int32)
    return matrix.reshape(len(values), width), lengths


def point_geometry_column(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EWKB points with SRID 4326 (little-endian), as PostGIS's binary input reads them."""
    ewkb = np.zeros(
        len(lon), dtype=[("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("xy", "<f8", 2)]
    )
    ewkb["order"] = 1
    ewkb["type"] = 0x20000001  # Point with SRID flag
    ewkb["srid"] = 4326
    ewkb["xy"][:, 0] = lon
    ewkb["xy"][:, 1] = lat
    return ewkb.view(np.uint8).reshape(len(lon), 25), np.full(len(lon), 25, dtype=np.int32)


def reserve_point_ids(count: int, dataset_id: int) -> np.ndarray:
    """`count` new ids of the dataset's points: numbers drawn from the points' one sequence
    (safe against concurrent loads), in the dataset's id range (storage/point_ids.py)."""
    numbers = _draw_numbers(count)
    if len(numbers) and numbers[-1] >= 1 << point_ids.SHIFT:
        raise OverflowError("the points' sequence has passed 2^40: no id range has room left")
    return point_ids.in_range(dataset_id, numbers)


def _draw_numbers(count: int) -> np.ndarray:
    with connection.cursor() as cursor:
        # Resolve the sequence once: pg_get_serial_sequence per row cost ~5 us of each 5.7.
        cursor.execute(f"SELECT pg_get_serial_sequence('{POINT_TABLE}', 'id')")
        sequence = f"nextval('{cursor.fetchone()[0]}')"
        # Usually the ids drawn are contiguous: their range then says it all (distinct values
        # spanning exactly `count` integers are that range), and fetching 100k values (~0.5 s)
        # is avoided. When a concurrent load interleaved, draw again value by value; the
        # first draw only leaves a gap in the sequence.
        cursor.execute(
            f"SELECT min(id), max(id) FROM (SELECT {sequence} AS id"
            " FROM generate_series(1, %s)) AS drawn",
            [count],
        )
        low, high = cursor.fetchone()
        if count and high - low + 1 == count:
            return np.arange(low, high + 1, dtype=np.int64)
        cursor.execute(f"SELECT array_agg({sequence}) FROM generate_series(1, %s)", [count])
        return np.array(cursor.fetchone()[0] or [], dtype=np.int64)


POINT_COLUMNS = ("id", "dataset_id", "pid", "geom", *POINT_FLOAT_COLUMNS)


def pack_points(
    pids: np.ndarray, lon: np.ndarray, lat: np.ndarray, attributes: dict[str, np.ndarray]
) -> PackedRows:
    """Points rows (POINT_COLUMNS) to `fill` with ids and dataset. Missing attributes are NULL."""
    unknown = set(attributes) - set(POINT_FLOAT_COLUMNS)
    if unknown:
        raise ValueError(f"unknown point attributes: {sorted(unknown)}")
    n = len(pids)
    missing = np.full(n, np.nan, dtype=np.float32)
    columns = [
        fixed_column(np.zeros(n), ">i8"),
        fixed_column(np.zeros(n), ">i4"),
        text_column(pids),
        point_geometry_column(lon, lat),
    ]
    columns += [fixed_column(attributes.get(name, missing), ">f4") for name in POINT_FLOAT_COLUMNS]
    return _pack(columns)


def pack_series(series: np.ndarray) -> PackedRows:
    """(point_id, displacements) rows of an (n points x dates) mm array, series_codec-encoded."""
    encoded, lengths = series_codec.encode(series)
    n, width = encoded.shape
    if not np.all(lengths == width):
        return _pack([fixed_column(np.zeros(n), ">i8"), (encoded, lengths)])
    # Optimization: equal-width rows map onto one structured array, with no per-byte scatter.
    return _fixed_width_rows(encoded)


def pack_extras(values: np.ndarray) -> PackedRows:
    """(point_id, values) rows: each row of (n x extra columns) values as float64 bytes."""
    matrix = np.ascontiguousarray(values, dtype=EXTRA_DTYPE)
    return _fixed_width_rows(matrix.view(np.uint8).reshape(len(matrix), -1))


def _fixed_width_rows(matrix: np.ndarray) -> PackedRows:
    """(bigint, bytea) rows whose bytea is each row of a uint8 matrix."""
    n, width = matrix.shape
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("id_length", ">i4"),
            ("id", ">i8"),
            ("value_length", ">i4"),
            ("value", np.uint8, (width,)),
        ]
    )
    rows = np.empty(n, dtype=row)
    rows["fields"] = 2
    rows["id_length"] = 8
    rows["value_length"] = width
    rows["value"] = matrix
    return PackedRows(rows.view(np.uint8), np.arange(n, dtype=np.int64) * row.itemsize)


def copy_rows(
    table: str,
    columns: tuple[str, ...],
    parts: Iterable[np.ndarray],
    database: psycopg.Connection | None = None,
) -> None:
    """One binary COPY of packed rows, part after part, in the caller's transaction (or on
    `database`, a staged load's own connection)."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    if database is None:
        connection.ensure_connection()
        database = connection.connection
    with database.cursor().copy(sql) as copy:
        copy.write(COPY_HEADER)
        for part in parts:
            copy.write(part.data)
        copy.write(COPY_TRAILER)


def _parts(ids: np.ndarray) -> Iterator[slice]:
    """Slices of ROWS_PER_CHUNK rows, so that memory stays bounded whatever the count."""
    return (slice(start, start + ROWS_PER_CHUNK) for start in range(0, len(ids), ROWS_PER_CHUNK))


def copy_points(
    dataset: Dataset,
    ids: np.ndarray,
    pids: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    attributes: dict[str, np.ndarray],
    into: partitions.StagedPoints | None = None,
) -> None:
    """COPY points into the dataset (`into` its staged table during a load). Missing
    attributes are NULL."""
    parts = (
        pack_points(
            pids[part], lon[part], lat[part], {k: v[part] for k, v in attributes.items()}
        ).fill(ids[part], dataset.pk)
        for part in _parts(ids)
    )
    copy_point_rows(dataset.pk, parts, into)


def copy_point_rows(
    dataset_id: int,
    parts: Iterable[np.ndarray],
    into: partitions.StagedPoints | None,
    tag: object = None,
) -> None:
    """COPY packed points rows of a dataset into the points table, or into its staged table
    on that table's own connection in the background (`tag` names the rows if that COPY
    fails: see StagedPoints.submit)."""
    if into is None:
        copy_rows(POINT_TABLE, POINT_COLUMNS, parts)
        return
    into.claim(dataset_id)
    rows = list(parts)
    into.submit(lambda database: copy_rows(into.table, POINT_COLUMNS, rows, database), tag)


def copy_series(ids: np.ndarray, series: np.ndarray, table: str | None = None) -> None:
    """COPY displacement series (n points x dates, mm) as encoded bytea rows (series_codec),
    into the staged series table of a load of their dataset in progress, else the series table.

    `table` lets processing stage series in a temporary table of the same columns.
    """
    parts = (pack_series(series[part]).fill(ids[part]) for part in _parts(ids))
    copy_rows(table or partitions.dependent_table(SERIES_TABLE, ids), SERIES_COLUMNS, parts)


def copy_extras(ids: np.ndarray, values: np.ndarray) -> None:
    """COPY extra per-point values (n points x dataset.extra_columns) as float64 bytea rows."""
    parts = (pack_extras(values[part]).fill(ids[part]) for part in _parts(ids))
    copy_rows(partitions.dependent_table(EXTRA_TABLE, ids), EXTRA_COLUMNS, parts)


def refresh_summary(dataset: Dataset, table: str = POINT_TABLE) -> None:
    """Recount points, recompute the extent, rebuild the tile cells and bump the version.

    `table` is where the points are: a staged partition before it is attached.
    """
    if table == POINT_TABLE:
        # Points written in place land in the DEFAULT partitions (of points, series and
        # extras), which autovacuum may not have analysed since they were small: plans on them
        # (the cells' series sums, exports, tiles) then assume a handful of rows and pick
        # nested loops that take minutes on 60,000 points.
        with connection.cursor() as cursor:
            for name in (POINT_TABLE, SERIES_TABLE, EXTRA_TABLE):
                cursor.execute(f"ANALYZE {name}_default")
    cells.refresh_cells(dataset, table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Dataset._meta.db_table} SET point_count = s.count, extent = s.extent,"
            " version = version + 1, updated_at = now()"
            " FROM (SELECT count(*) AS count,"
            "       ST_SetSRID(ST_Expand(ST_Extent(geom), 1e-6)::geometry, 4326) AS extent"
            f"       FROM {table} WHERE dataset_id = %s) AS s"
            " WHERE id = %s",
            [dataset.pk, dataset.pk],
        )
    dataset.refresh_from_db(fields=["point_count", "extent", "version", "updated_at"])


def finish_load(dataset: Dataset, staged: partitions.StagedPoints | None) -> None:
    """End a load: summary and cells, and for a staged table its indexes (the GiST ones on
    its own connection meanwhile) and ATTACH, the last step before the caller commits."""
    if staged is None:
        refresh_summary(dataset)
        return
    staged.claim(dataset.pk)  # a load with no points: its series and extras tables too
    with staged.build_indexes():
        staged.index_keys()
        refresh_summary(dataset, staged.table)
    staged.attach(dataset.pk)


def _id_range(ids: np.ndarray) -> list[int]:
    """The chunk's dataset and id bounds (a chunk is one dataset's): both prune."""
    if not len(ids):
        return [0, 0, -1]
    return [point_ids.dataset_of(ids.min()), int(ids.min()), int(ids.max())]


def update_parameters(ids: np.ndarray, parameters: dict[str, np.ndarray]) -> None:
    """Overwrite fitted parameters of existing points (COPY to a temporary table, UPDATE)."""
    names = list(parameters)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS processing_parameters"
            f" (id bigint, {', '.join(f'{name} real' for name in names)}) ON COMMIT DROP"
        )
        cursor.execute("TRUNCATE processing_parameters")
        sql = f"COPY processing_parameters (id, {', '.join(names)}) FROM STDIN (FORMAT BINARY)"
        with cursor.connection.cursor().copy(sql) as copy:
            copy.write(COPY_HEADER)
            columns = [fixed_column(ids, ">i8")]
            columns += [fixed_column(parameters[name], ">f4") for name in names]
            copy.write(pack_binary_rows(columns).data)
            copy.write(COPY_TRAILER)
        assignments = ", ".join(f"{name} = t.{name}" for name in names)
        # The id range lets the planner scan only this chunk's slice of the primary key;
        # without it, every chunk hash-joins against the whole points table.
        cursor.execute(
            f"UPDATE {POINT_TABLE} p SET {assignments} FROM processing_parameters t"
            " WHERE p.id = t.id AND p.dataset_id = %s AND p.id BETWEEN %s AND %s",
            _id_range(ids),
        )


def update_series(ids: np.ndarray, series: np.ndarray) -> None:
    """Overwrite the series of existing points (COPY to a temporary table, UPDATE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS processing_series"
            " (point_id bigint, displacements bytea) ON COMMIT DROP"
        )
        cursor.execute("TRUNCATE processing_series")
        copy_series(ids, series, table="processing_series")
        cursor.execute(
            f"UPDATE {SERIES_TABLE} s SET displacements = t.displacements"
            " FROM processing_series t WHERE s.point_id = t.point_id"
            " AND s.point_id BETWEEN %s AND %s",
            _id_range(ids)[1:],
        )
