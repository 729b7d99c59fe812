"""Stream points and their series out of PostgreSQL with one binary COPY, in numpy chunks.

Every column is made fixed-width in SQL (NULL becomes NaN, the pid is zero-padded to 128
bytes, a missing series becomes NaNs), so each COPY row has the same layout and a block of
rows is parsed by one np.frombuffer call: no per-row Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from django.db import connection
from django.db.models import QuerySet

from groundmotion.bulk import POINT_FLOAT_COLUMNS, POINT_TABLE, SERIES_TABLE
from groundmotion.models import SERIES_DTYPE, Dataset, MeasurementPoint

PID_BYTES = 128  # 32 characters of at most 4 UTF-8 bytes each
COPY_HEADER_BYTES = 19
CHUNK_ROWS = 20_000


@dataclass
class PointChunk:
    """A block of exported points. Units as stored: degrees, mm, mm/yr, metres."""

    ids: np.ndarray
    pids: np.ndarray
    longitude: np.ndarray
    latitude: np.ndarray
    attributes: dict[str, np.ndarray]
    series: np.ndarray | None  # points x dates, float32 mm; None when not requested

    def __len__(self) -> int:
        return len(self.ids)


def row_dtype(date_count: int | None) -> np.dtype:
    fields = [("field_count", ">i2"), ("id_length", ">i4"), ("id", ">i8")]
    fields += [("pid_length", ">i4"), ("pid", f"S{PID_BYTES}")]
    fields += [("lon_length", ">i4"), ("lon", ">f8"), ("lat_length", ">i4"), ("lat", ">f8")]
    for name in POINT_FLOAT_COLUMNS:
        fields += [(f"{name}_length", ">i4"), (name, ">f4")]
    if date_count is not None:
        fields += [("series_length", ">i4"), ("series", SERIES_DTYPE, (date_count,))]
    return np.dtype(fields)


def copy_sql(points: QuerySet[MeasurementPoint], date_count: int | None) -> tuple[str, tuple]:
    """The COPY statement: the access-filtered queryset decides which ids; we add the columns."""
    selection, params = points.order_by().values("id").query.sql_with_params()
    floats = ", ".join(f"COALESCE(p.{name}, 'NaN'::real)" for name in POINT_FLOAT_COLUMNS)
    columns = (
        "p.id, substring(convert_to(p.pid, 'UTF8') || decode(repeat('00', %s), 'hex')"
        f" from 1 for {PID_BYTES}), ST_X(p.geom), ST_Y(p.geom), {floats}"
    )
    extra: tuple = (PID_BYTES,)
    join = ""
    if date_count is not None:
        width = date_count * SERIES_DTYPE.itemsize
        # A series of the wrong length (or none) is exported as NaNs rather than breaking the
        # fixed row layout.
        columns += (
            f", CASE WHEN length(s.displacements) = {width} THEN s.displacements"
            f" ELSE decode(repeat('0000c07f', {date_count}), 'hex') END"
        )
        join = f" LEFT JOIN {SERIES_TABLE} s ON s.point_id = p.id"
    sql = (
        f"COPY (SELECT {columns} FROM {POINT_TABLE} p{join}"
        f" WHERE p.id IN ({selection}) ORDER BY p.id) TO STDOUT (FORMAT BINARY)"
    )
    return sql, (*extra, *params)


def to_chunk(rows: np.ndarray, with_series: bool) -> PointChunk:
    pids = np.char.decode(rows["pid"], "utf-8")
    return PointChunk(
        ids=rows["id"].astype(np.int64),
        pids=pids,
        longitude=rows["lon"].astype(np.float64),
        latitude=rows["lat"].astype(np.float64),
        attributes={name: rows[name].astype(np.float32) for name in POINT_FLOAT_COLUMNS},
        series=rows["series"].astype(np.float32) if with_series else None,
    )


def stream_points(
    points: QuerySet[MeasurementPoint],
    dataset: Dataset,
    *,
    with_series: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[PointChunk]:
    """Yield the points of the queryset (ordered by id) in chunks of about chunk_rows."""
    date_count = len(dataset.acquisition_dates) if with_series else None
    dtype = row_dtype(date_count)
    sql, params = copy_sql(points, date_count)
    buffer = bytearray()
    skipped_header = False
    with connection.cursor() as cursor, cursor.connection.cursor().copy(sql, params) as copy:
        for block in copy:
            buffer += block
            if not skipped_header and len(buffer) >= COPY_HEADER_BYTES:
                del buffer[:COPY_HEADER_BYTES]
                skipped_header = True
            if skipped_header and len(buffer) >= chunk_rows * dtype.itemsize:
                yield from take_rows(buffer, dtype, with_series)
    if skipped_header:
        yield from take_rows(buffer, dtype, with_series)


def take_rows(buffer: bytearray, dtype: np.dtype, with_series: bool) -> Iterator[PointChunk]:
    """Parse every complete row in the buffer and drop it (the trailer stays behind)."""
    count = len(buffer) // dtype.itemsize
    if count == 0:
        return
    rows = np.frombuffer(bytes(buffer[: count * dtype.itemsize]), dtype=dtype)
    del buffer[: count * dtype.itemsize]
    yield to_chunk(rows, with_series)


ProgressCallback = Callable[[int], None]
