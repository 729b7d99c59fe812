"""Stream points and their series out of PostgreSQL with one binary COPY, in numpy chunks.

Every column is made fixed-width in SQL (NULL becomes NaN, the pid is zero-padded to 128
bytes), so each COPY row has the same layout and a block of rows is parsed by one
np.frombuffer call: no per-row Python. Series (groundmotion/series_codec.py: a tag byte, then
int16 at 0.1 mm or float32 mm) are sent at the float32 width: int16 rows are zero-padded, and
a missing or malformed series becomes a float32 row of NaNs. The stored extras (PointExtra:
float64 per name in dataset.extra_columns) come the same way, NaN where a point has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from django.db import connection
from django.db.models import QuerySet

from groundmotion import series_codec
from groundmotion.bulk import EXTRA_TABLE, POINT_FLOAT_COLUMNS, POINT_TABLE, SERIES_TABLE
from groundmotion.models import EXTRA_DTYPE, Dataset, MeasurementPoint

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
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # float64 by stored name
    pid_bytes: np.ndarray | None = None  # (points, PID_BYTES) uint8, UTF-8 NUL-padded

    def __len__(self) -> int:
        return len(self.ids)


def row_dtype(date_count: int | None, extra_count: int = 0) -> np.dtype:
    fields = [("field_count", ">i2"), ("id_length", ">i4"), ("id", ">i8")]
    fields += [("pid_length", ">i4"), ("pid", f"S{PID_BYTES}")]
    fields += [("lon_length", ">i4"), ("lon", ">f8"), ("lat_length", ">i4"), ("lat", ">f8")]
    for name in POINT_FLOAT_COLUMNS:
        fields += [(f"{name}_length", ">i4"), (name, ">f4")]
    if date_count is not None:
        width = series_codec.encoded_size(date_count, series_codec.TAG_FLOAT32)
        fields += [("series_length", ">i4"), ("series", "u1", (width,))]
    if extra_count:
        fields += [("extras_length", ">i4"), ("extras", EXTRA_DTYPE, (extra_count,))]
    return np.dtype(fields)


def copy_sql(
    points: QuerySet[MeasurementPoint], date_count: int | None, extra_count: int = 0
) -> tuple[str, tuple]:
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
        columns += ", " + series_sql(date_count)
        join = f" LEFT JOIN {SERIES_TABLE} s ON s.point_id = p.id"
    if extra_count:
        columns += ", " + extras_sql(extra_count)
        join += f" LEFT JOIN {EXTRA_TABLE} e ON e.point_id = p.id"
    sql = (
        f"COPY (SELECT {columns} FROM {POINT_TABLE} p{join}"
        f" WHERE p.id IN ({selection}) ORDER BY p.id) TO STDOUT (FORMAT BINARY)"
    )
    return sql, (*extra, *params)


def series_sql(date_count: int) -> str:
    """The stored series at the fixed float32 width (see the module docstring)."""
    short = series_codec.encoded_size(date_count, series_codec.TAG_INT16)
    wide = series_codec.encoded_size(date_count, series_codec.TAG_FLOAT32)
    return (
        f"CASE WHEN length(s.displacements) = {short}"
        f" AND get_byte(s.displacements, 0) = {series_codec.TAG_INT16}"
        f" THEN s.displacements || decode(repeat('00', {wide - short}), 'hex')"
        f" WHEN length(s.displacements) = {wide}"
        f" AND get_byte(s.displacements, 0) = {series_codec.TAG_FLOAT32} THEN s.displacements"
        f" ELSE decode('{series_codec.TAG_FLOAT32:02x}' || repeat('0000c07f', {date_count}),"
        " 'hex') END"
    )


def extras_sql(extra_count: int) -> str:
    """The stored extras at their fixed width; a missing or odd row becomes NaNs."""
    nan = np.array([np.nan], dtype=EXTRA_DTYPE).tobytes().hex()
    return (
        f"CASE WHEN length(e.values) = {extra_count * EXTRA_DTYPE.itemsize} THEN e.values"
        f" ELSE decode(repeat('{nan}', {extra_count}), 'hex') END"
    )


def decode_series(raw: np.ndarray, date_count: int) -> np.ndarray:
    """(n, 1 + 4*dates) uint8 rows from series_sql to (n, dates) float32 mm, NaN if missing."""
    tags = raw[:, 0]
    body = np.ascontiguousarray(raw[:, 1:])
    out = body.view("<f4").astype(np.float32)
    short = tags == series_codec.TAG_INT16
    if short.any():
        values = np.ascontiguousarray(body[short, : 2 * date_count]).view("<i2")
        scaled = values.astype(np.float32) * np.float32(series_codec.SCALE_MM)
        scaled[values == series_codec.MISSING_INT16] = np.nan
        out[short] = scaled
    return out


def to_chunk(rows: np.ndarray, with_series: bool, extra_names: list[str]) -> PointChunk:
    pids = np.char.decode(rows["pid"], "utf-8")
    extras = rows["extras"].astype(np.float64) if extra_names else None
    return PointChunk(
        ids=rows["id"].astype(np.int64),
        pids=pids,
        longitude=rows["lon"].astype(np.float64),
        latitude=rows["lat"].astype(np.float64),
        attributes={name: rows[name].astype(np.float32) for name in POINT_FLOAT_COLUMNS},
        series=decode_series(rows["series"], (rows["series"].shape[1] - 1) // 4)
        if with_series
        else None,
        extras={name: extras[:, i] for i, name in enumerate(extra_names)} if extra_names else {},
        pid_bytes=np.ascontiguousarray(rows["pid"]).view(np.uint8).reshape(len(rows), PID_BYTES),
    )


def stream_points(
    points: QuerySet[MeasurementPoint],
    dataset: Dataset,
    *,
    with_series: bool = True,
    with_extras: bool = True,
    chunk_rows: int | None = None,
) -> Iterator[PointChunk]:
    """Yield the points of the queryset (ordered by id) in chunks of about chunk_rows
    (CHUNK_ROWS, read at each call)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    date_count = len(dataset.acquisition_dates) if with_series else None
    extra_names = list(dataset.extra_columns) if with_extras else []
    dtype = row_dtype(date_count, len(extra_names))
    sql, params = copy_sql(points, date_count, len(extra_names))
    buffer = bytearray()
    skipped_header = False
    with connection.cursor() as cursor, cursor.connection.cursor().copy(sql, params) as copy:
        for block in copy:
            buffer += block
            if not skipped_header and len(buffer) >= COPY_HEADER_BYTES:
                del buffer[:COPY_HEADER_BYTES]
                skipped_header = True
            if skipped_header and len(buffer) >= chunk_rows * dtype.itemsize:
                yield from take_rows(buffer, dtype, with_series, extra_names)
    if skipped_header:
        yield from take_rows(buffer, dtype, with_series, extra_names)


def take_rows(
    buffer: bytearray, dtype: np.dtype, with_series: bool, extra_names: list[str]
) -> Iterator[PointChunk]:
    """Parse every complete row in the buffer and drop it (the trailer stays behind)."""
    count = len(buffer) // dtype.itemsize
    if count == 0:
        return
    rows = np.frombuffer(bytes(buffer[: count * dtype.itemsize]), dtype=dtype)
    del buffer[: count * dtype.itemsize]
    yield to_chunk(rows, with_series, extra_names)


ProgressCallback = Callable[[int], None]
