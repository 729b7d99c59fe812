"""Points, series and extras out of PostgreSQL into numpy, with binary COPY.

Rows are parsed as fixed-width numpy records (binary.py), never one by one in Python: every
column is made fixed-width in SQL (NULL floats become NaN, the pid is NUL-padded). Two
readers use it: exports (`export_sql` through `stream_binary`, memory bounded, in the caller's
transaction) and the products (`iterate_chunks` and the reads by area), which split a
committed dataset's id range over several connections in parallel (psycopg releases the GIL
while copying).
"""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import psycopg
from django.db import connection
from django.db.models import QuerySet

from groundmotion.models import EXTRA_DTYPE, Dataset, MeasurementPoint
from groundmotion.storage import binary, partitions, series_codec
from groundmotion.storage.binary import COPY_HEADER_BYTES
from groundmotion.storage.tables import EXTRA_TABLE, POINT_FLOAT_COLUMNS, POINT_TABLE, SERIES_TABLE

CHUNK_POINTS = 100_000
PARALLEL_READERS = 2

# Point attributes read with every chunk: name -> SQL expression (float8 in the COPY).
GEOMETRY_COLUMNS = {"lon": "ST_X(p.geom)", "lat": "ST_Y(p.geom)"}
PROJECTED_COLUMNS = {
    "easting": "ST_X(ST_Transform(p.geom, 3035))",
    "northing": "ST_Y(ST_Transform(p.geom, 3035))",
}
ATTRIBUTE_COLUMNS = {name: f"p.{name}" for name in POINT_FLOAT_COLUMNS}


def copy_bytes(
    query: str, params: Sequence = (), database: psycopg.Connection | None = None
) -> bytes:
    """The whole binary COPY stream of a SELECT (parameters bound by psycopg, client-side)."""
    sql = f"COPY ({query}) TO STDOUT (FORMAT BINARY)"
    out = io.BytesIO()
    with (database or _django_raw()).cursor() as cursor, cursor.copy(sql, params) as copy:
        for data in copy:
            out.write(data)
    return out.getvalue()


def read_binary(
    query: str, params: Sequence, dtype: np.dtype, database: psycopg.Connection | None = None
) -> np.ndarray:
    """The rows of a SELECT as `dtype` records (binary.row_dtype), in one COPY."""
    rows = binary.records(copy_bytes(query, params, database), dtype)
    if rows is None:
        raise ValueError(f"rows of {query[:60]!r} are not {dtype.itemsize}-byte records")
    return rows


ID_ROW = binary.row_dtype([("id", ">i8")])


def point_ids(dataset: Dataset) -> np.ndarray:
    """The dataset's point ids in ascending order (int64)."""
    query = f"SELECT id FROM {POINT_TABLE} WHERE dataset_id = %s ORDER BY id"
    return read_binary(query, [dataset.pk], ID_ROW)["id"].astype(np.int64)


def _django_raw() -> psycopg.Connection:
    connection.ensure_connection()
    return connection.connection


def _fresh_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def committed_elsewhere(dataset: Dataset) -> bool:
    """Whether other connections see the dataset (not inside an uncommitted transaction)."""
    try:
        with _fresh_connection() as other:
            row = other.execute(
                f"SELECT 1 FROM {Dataset._meta.db_table} WHERE id = %s", [dataset.pk]
            ).fetchone()
    except psycopg.Error:
        return False
    return row is not None


def _chunk_dtype(columns: list[str], dates: int) -> np.dtype:
    """The record of one row when its series has the common int16 encoding."""
    width = series_codec.encoded_size(dates)
    fields = [("id", ">i8"), *((name, ">f8") for name in columns)]
    return binary.row_dtype([*fields, ("series", np.uint8, (width,))])


def _chunk_query(
    columns: dict[str, str],
    dataset_id: int,
    where: str = "p.dataset_id = %s AND p.id BETWEEN %s AND %s",
) -> str:
    selected = "".join(f", COALESCE({sql}, 'NaN')::float8" for sql in columns.values())
    series = partitions.dataset_rows(SERIES_TABLE, dataset_id)
    return (
        f"SELECT p.id{selected}, s.displacements FROM {POINT_TABLE} p"
        f" JOIN {series} s ON s.point_id = p.id WHERE {where} ORDER BY p.id"
    )


def read_band(
    dataset: Dataset,
    columns: dict[str, str],
    envelope: tuple[float, float, float, float],
    northing_m: tuple[float, float],
) -> dict[str, np.ndarray]:
    """Points whose EPSG:3035 northing lies in [northing_m): id, columns, series.

    envelope (WGS84 lon/lat bounds) must contain the band: it lets the GiST index on geom
    find the band's points; the northing test is then exact.
    """
    where = (
        "p.dataset_id = %s AND p.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
        " AND ST_Y(ST_Transform(p.geom, 3035)) >= %s AND ST_Y(ST_Transform(p.geom, 3035)) < %s"
    )
    buffer = copy_bytes(
        _chunk_query(columns, dataset.pk, where), [dataset.pk, *envelope, *northing_m]
    )
    return _parse_chunk(buffer, list(columns), len(dataset.acquisition_dates))


def _parse_chunk(buffer: bytes, columns: list[str], dates: int) -> dict[str, np.ndarray]:
    rows = binary.records(buffer, _chunk_dtype(columns, dates))
    width = series_codec.encoded_size(dates)
    if (
        rows is None
        or np.any(rows["series_length"] != width)
        or np.any(rows["series"][:, 0] != series_codec.TAG_INT16)
    ):
        return _parse_rows_one_by_one(buffer, columns, dates)
    out = {name: rows[name].astype(np.float64) for name in columns}
    out["id"] = rows["id"].astype(np.int64)
    out["series"] = series_codec.decode_int16_matrix(rows["series"])
    return out


def _parse_rows_one_by_one(buffer: bytes, columns: list[str], dates: int) -> dict[str, list]:
    """The general path, for chunks holding float32-encoded (out-of-range) series."""
    view, position = memoryview(buffer), COPY_HEADER_BYTES
    ids, values, series = [], [], []
    while int.from_bytes(view[position : position + 2], "big", signed=True) != -1:
        position += 2
        fields = []
        for _ in range(len(columns) + 2):
            length = int.from_bytes(view[position : position + 4], "big", signed=True)
            fields.append(view[position + 4 : position + 4 + length])
            position += 4 + length
        ids.append(int.from_bytes(fields[0], "big", signed=True))
        values.append([np.frombuffer(field, dtype=">f8")[0] for field in fields[1:-1]])
        series.append(fields[-1])
    matrix = np.array(values, dtype=np.float64).reshape(len(ids), len(columns))
    out = {name: matrix[:, i] for i, name in enumerate(columns)}
    out["id"] = np.array(ids, dtype=np.int64)
    decoded = series_codec.decode_many(series, dates)
    if decoded.shape[1] != dates:
        raise ValueError("a stored series does not have one value per dataset date")
    out["series"] = decoded
    return out


def _series_query() -> str:
    """Series alone, for id ranges that hold only the dataset's points (no join needed)."""
    return (
        f"SELECT s.point_id, s.displacements FROM {SERIES_TABLE} s"
        " WHERE s.point_id BETWEEN %s AND %s ORDER BY s.point_id"
    )


@dataclass(frozen=True)
class Part:
    """An inclusive id range to read; `exclusive` when every id in it is the dataset's."""

    first: int
    last: int
    exclusive: bool


def split_parts(ids: np.ndarray, pieces: int) -> list[Part]:
    """Cut sorted ids into about equal pieces, noting which id ranges have no gaps."""
    edges = np.linspace(0, len(ids), pieces + 1).astype(np.int64)
    return [
        Part(int(ids[a]), int(ids[b - 1]), int(ids[b - 1] - ids[a]) == b - 1 - a)
        for a, b in itertools.pairwise(edges)
        if b > a
    ]


def _read_part(
    raw: psycopg.Connection, dataset_id: int, part: Part, columns: dict[str, str], dates: int
) -> dict[str, np.ndarray]:
    # Optimization: a range with no foreign ids needs no join with the points table
    # (3x faster); ids are reserved in blocks per load, so this is the usual case.
    if part.exclusive and not columns:
        buffer = copy_bytes(_series_query(), [part.first, part.last], raw)
    else:
        buffer = copy_bytes(
            _chunk_query(columns, dataset_id), [dataset_id, part.first, part.last], raw
        )
    return _parse_chunk(buffer, list(columns), dates)


def read_range(
    dataset_id: int, part: Part, columns: dict[str, str], dates: int
) -> dict[str, np.ndarray]:
    """One id range of a dataset on the request's connection: id, columns, series."""
    return _read_part(_django_raw(), dataset_id, part, columns, dates)


def _concatenate(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def read_within(dataset: Dataset, area_wkt: str) -> dict[str, np.ndarray]:
    """Points of the dataset within a WGS84 area (WKT): id and series (GiST index, COPY)."""
    where = "p.dataset_id = %s AND ST_Within(p.geom, ST_GeomFromText(%s, 4326))"
    buffer = copy_bytes(_chunk_query({}, dataset.pk, where), [dataset.pk, area_wkt])
    return _parse_chunk(buffer, [], len(dataset.acquisition_dates))


def read_extras(dataset: Dataset, ids: np.ndarray) -> np.ndarray:
    """The extra values (points x dataset.extra_columns, float64) of these sorted point ids.

    NaN where a point has no extra row.
    """
    width = len(dataset.extra_columns)
    out = np.full((len(ids), width), np.nan)
    if not width or not len(ids):
        return out
    query = (
        f"SELECT e.point_id, e.values FROM {partitions.dataset_rows(EXTRA_TABLE, dataset.pk)} e"
        f" JOIN {POINT_TABLE} p"
        " ON p.id = e.point_id WHERE p.dataset_id = %s AND p.id BETWEEN %s AND %s"
        " ORDER BY e.point_id"
    )
    dtype = binary.row_dtype([("id", ">i8"), ("values", EXTRA_DTYPE, (width,))])
    stream = copy_bytes(query, [dataset.pk, int(ids[0]), int(ids[-1])])
    rows = binary.records(stream, dtype)
    if rows is None or np.any(rows["values_length"] != width * EXTRA_DTYPE.itemsize):
        raise ValueError(f"{dataset.slug} has extra rows that do not match its extra columns")
    position = np.searchsorted(ids, rows["id"])
    found = (position < len(ids)) & (ids[np.minimum(position, len(ids) - 1)] == rows["id"])
    out[position[found]] = rows["values"][found]
    return out


class _ReaderPool:
    """Reader threads, each with its own connection, kept for a whole iteration."""

    def __init__(self, size: int) -> None:
        self.local = threading.local()
        self.opened: list[psycopg.Connection] = []
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(size)

    def connection(self) -> psycopg.Connection:
        if not hasattr(self.local, "raw"):
            self.local.raw = _fresh_connection()
            with self.lock:
                self.opened.append(self.local.raw)
        return self.local.raw

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        for raw in self.opened:
            raw.close()


def iterate_chunks(
    dataset: Dataset, columns: dict[str, str], size: int | None = None
) -> Iterator[tuple[float, dict[str, np.ndarray]]]:
    """(fraction done, chunk) over the whole dataset, in id order, memory bounded by `size`.

    Committed datasets are read by PARALLEL_READERS connections, each chunk cut in as many
    id ranges, and the next chunk is read while the caller works on this one. Data still
    inside the caller's transaction is read on its own connection, one range at a time.
    "Committed" is judged by the dataset row: a caller that rewrites the series of a
    committed dataset and then reads them back in the same transaction would read the old
    ones (no product does).
    """
    size = size or CHUNK_POINTS  # read at each call, so a test can make chunks small
    ids = point_ids(dataset)
    starts = list(range(0, len(ids), size))
    dates = len(dataset.acquisition_dates)
    if not committed_elsewhere(dataset):
        for number, start in enumerate(starts):
            parts = split_parts(ids[start : start + size], 1)
            chunk = _concatenate(
                [_read_part(_django_raw(), dataset.pk, part, columns, dates) for part in parts]
            )
            yield (number + 1) / len(starts), chunk
        return
    pool = _ReaderPool(PARALLEL_READERS)

    def submit(start: int) -> list[Future]:
        return [
            pool.executor.submit(
                lambda part=part: _read_part(pool.connection(), dataset.pk, part, columns, dates)
            )
            for part in split_parts(ids[start : start + size], PARALLEL_READERS)
        ]

    try:
        pending = submit(starts[0]) if starts else []
        for number in range(len(starts)):
            current = pending
            pending = submit(starts[number + 1]) if number + 1 < len(starts) else []
            yield (number + 1) / len(starts), _concatenate([f.result() for f in current])
    finally:
        pool.close()


def read_pids(dataset: Dataset, bounds: tuple[int, int]) -> np.ndarray:
    """The pids of the points in the inclusive id bounds, in id order (text COPY)."""
    out = io.BytesIO()
    sql = (
        f"COPY (SELECT pid FROM {POINT_TABLE} WHERE dataset_id = {int(dataset.pk)}"
        f" AND id BETWEEN {int(bounds[0])} AND {int(bounds[1])} ORDER BY id) TO STDOUT"
    )
    with _django_raw().cursor() as cursor, cursor.copy(sql) as copy:
        for data in copy:
            out.write(data)
    text = out.getvalue().decode()
    return np.array(text.split("\n")[:-1] if text else [], dtype=str)


# Exports: the access-filtered queryset decides which points, in id order; the COPY adds the
# columns at fixed widths. The pid is padded to PID_BYTES; series come at the float32 width:
# int16 rows are zero-padded, a missing or malformed series becomes a float32 row of NaNs.
PID_BYTES = 128  # 32 characters of at most 4 UTF-8 bytes each


def export_row_dtype(date_count: int | None, extra_count: int = 0) -> np.dtype:
    """The record of an export row (export_sql): id, pid, lon, lat, floats, series, extras."""
    fields: list[tuple] = [("id", ">i8"), ("pid", f"S{PID_BYTES}"), ("lon", ">f8"), ("lat", ">f8")]
    fields += [(name, ">f4") for name in POINT_FLOAT_COLUMNS]
    if date_count is not None:
        width = series_codec.encoded_size(date_count, series_codec.TAG_FLOAT32)
        fields.append(("series", "u1", (width,)))
    if extra_count:
        fields.append(("extras", EXTRA_DTYPE, (extra_count,)))
    return binary.row_dtype(fields)


def export_sql(
    points: QuerySet[MeasurementPoint],
    dataset_id: int,
    date_count: int | None,
    extra_count: int = 0,
) -> tuple[str, tuple]:
    """The SELECT of export_row_dtype's rows for the queryset's points (of one dataset), and its
    parameters. The selection (access rules, masks, area, filters) is a MATERIALIZED CTE, so it
    is evaluated once, and joined on id within the dataset's partition. Written as
    `p.id IN (selection)`, the planner could, with statistics from before a load (a default
    partition analysed while small), pick a nested loop that re-ran the selection and its mask
    test for every row: minutes for 60,000 points."""
    selection, params = points.order_by().values("id").query.sql_with_params()
    floats = ", ".join(f"COALESCE(p.{name}, 'NaN'::real)" for name in POINT_FLOAT_COLUMNS)
    columns = (
        "p.id, substring(convert_to(p.pid, 'UTF8') || decode(repeat('00', %s), 'hex')"
        f" from 1 for {PID_BYTES}), ST_X(p.geom), ST_Y(p.geom), {floats}"
    )
    join = ""
    if date_count is not None:
        columns += ", " + _float32_series_sql(date_count)
        join = f" LEFT JOIN {partitions.dataset_rows(SERIES_TABLE, dataset_id)} s"
        join += " ON s.point_id = p.id"
    if extra_count:
        columns += ", " + _extras_sql(extra_count)
        join += f" LEFT JOIN {partitions.dataset_rows(EXTRA_TABLE, dataset_id)} e"
        join += " ON e.point_id = p.id"
    query = (
        f"WITH chosen AS MATERIALIZED ({selection}) SELECT {columns}"
        f" FROM chosen c JOIN {POINT_TABLE} p ON p.id = c.id AND p.dataset_id = {int(dataset_id)}"
        f"{join} ORDER BY p.id"
    )
    return query, (*params, PID_BYTES)


def _float32_series_sql(date_count: int) -> str:
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


def _extras_sql(extra_count: int) -> str:
    """The stored extras at their fixed width; a missing or odd row becomes NaNs."""
    nan = np.array([np.nan], dtype=EXTRA_DTYPE).tobytes().hex()
    return (
        f"CASE WHEN length(e.values) = {extra_count * EXTRA_DTYPE.itemsize} THEN e.values"
        f" ELSE decode(repeat('{nan}', {extra_count}), 'hex') END"
    )


def decode_float32_series(raw: np.ndarray, date_count: int) -> np.ndarray:
    """(n, 1 + 4*dates) uint8 rows of an export to (n, dates) float32 mm, NaN if missing."""
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


def stream_binary(
    query: str, params: Sequence, dtype: np.dtype, chunk_rows: int
) -> Iterator[np.ndarray]:
    """The rows of a SELECT as `dtype` records, in blocks of about chunk_rows, memory bounded,
    on the caller's connection and in its transaction."""
    sql = f"COPY ({query}) TO STDOUT (FORMAT BINARY)"
    buffer = bytearray()
    skipped_header = False
    with connection.cursor() as cursor, cursor.connection.cursor().copy(sql, params) as copy:
        for block in copy:
            buffer += block
            if not skipped_header and len(buffer) >= COPY_HEADER_BYTES:
                del buffer[:COPY_HEADER_BYTES]
                skipped_header = True
            if skipped_header and len(buffer) >= chunk_rows * dtype.itemsize:
                yield from take_rows(buffer, dtype)
    if skipped_header:
        yield from take_rows(buffer, dtype)


def take_rows(buffer: bytearray, dtype: np.dtype) -> Iterator[np.ndarray]:
    """Every complete row in the buffer, which loses them (the trailer stays behind)."""
    count = len(buffer) // dtype.itemsize
    if count == 0:
        return
    rows = np.frombuffer(bytes(buffer[: count * dtype.itemsize]), dtype=dtype)
    del buffer[: count * dtype.itemsize]
    yield rows
