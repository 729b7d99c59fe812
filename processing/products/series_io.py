"""Moving points and series between PostgreSQL and numpy with binary COPY.

Rows are parsed as fixed-width numpy records, never one by one in Python. NULL floats come
out as NaN (COALESCE), so every row has the same layout. Reads of committed data split the
id range over several connections in parallel (psycopg releases the GIL while copying).
"""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import psycopg
from django.db import connection

from groundmotion import bulk, series_codec
from groundmotion.models import EXTRA_DTYPE, Dataset

COPY_HEADER_BYTES = 19
CHUNK_POINTS = 100_000
PARALLEL_READERS = 2

# Point attributes read with every chunk: name -> SQL expression (float8 in the COPY).
GEOMETRY_COLUMNS = {"lon": "ST_X(p.geom)", "lat": "ST_Y(p.geom)"}
PROJECTED_COLUMNS = {
    "easting": "ST_X(ST_Transform(p.geom, 3035))",
    "northing": "ST_Y(ST_Transform(p.geom, 3035))",
}


def point_ids(dataset: Dataset) -> np.ndarray:
    """The dataset's point ids in ascending order (int64)."""
    buffer = _copy_out(
        _django_raw(),
        "SELECT id FROM groundmotion_measurementpoint WHERE dataset_id = %s ORDER BY id",
        [dataset.pk],
    )
    rows = np.frombuffer(
        buffer,
        dtype=[("fields", ">i2"), ("length", ">i4"), ("id", ">i8")],
        offset=COPY_HEADER_BYTES,
        count=_row_count(buffer, 14),
    )
    return rows["id"].astype(np.int64)


def _row_count(buffer: bytes, row_bytes: int) -> int:
    return (len(buffer) - COPY_HEADER_BYTES - 2) // row_bytes


def _copy_out(raw: psycopg.Connection, query: str, params: list) -> bytes:
    sql = psycopg.sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(
        psycopg.sql.SQL(query.replace("%s", "{}")).format(*map(psycopg.sql.Literal, params))
    )
    out = io.BytesIO()
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for data in copy:
            out.write(data)
    return out.getvalue()


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
                "SELECT 1 FROM groundmotion_dataset WHERE id = %s", [dataset.pk]
            ).fetchone()
    except psycopg.Error:
        return False
    return row is not None


def _chunk_dtype(columns: list[str], dates: int) -> np.dtype:
    """The record of one row when its series has the common int16 encoding."""
    fields: list[tuple] = [("fields", ">i2"), ("id_length", ">i4"), ("id", ">i8")]
    for name in columns:
        fields += [(f"{name}_length", ">i4"), (name, ">f8")]
    width = series_codec.encoded_size(dates)
    fields += [("series_length", ">i4"), ("series", np.uint8, (width,))]
    return np.dtype(fields)


def _chunk_query(
    columns: dict[str, str], where: str = "p.dataset_id = %s AND p.id BETWEEN %s AND %s"
) -> str:
    selected = "".join(f", COALESCE({sql}, 'NaN')::float8" for sql in columns.values())
    return (
        f"SELECT p.id{selected}, s.displacements FROM {bulk.POINT_TABLE} p"
        f" JOIN {bulk.SERIES_TABLE} s ON s.point_id = p.id WHERE {where} ORDER BY p.id"
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
    buffer = _copy_out(
        _django_raw(), _chunk_query(columns, where), [dataset.pk, *envelope, *northing_m]
    )
    return _parse_chunk(buffer, list(columns), len(dataset.acquisition_dates))


def _parse_chunk(buffer: bytes, columns: list[str], dates: int) -> dict[str, np.ndarray]:
    dtype = _chunk_dtype(columns, dates)
    body = len(buffer) - COPY_HEADER_BYTES - 2
    rows = None
    if body % dtype.itemsize == 0:
        rows = np.frombuffer(
            buffer, dtype=dtype, offset=COPY_HEADER_BYTES, count=body // dtype.itemsize
        )
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
        f"SELECT s.point_id, s.displacements FROM {bulk.SERIES_TABLE} s"
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
        buffer = _copy_out(raw, _series_query(), [part.first, part.last])
    else:
        buffer = _copy_out(raw, _chunk_query(columns), [dataset_id, part.first, part.last])
    return _parse_chunk(buffer, list(columns), dates)


def _concatenate(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def read_within(dataset: Dataset, area_wkt: str) -> dict[str, np.ndarray]:
    """Points of the dataset within a WGS84 area (WKT): id and series (GiST index, COPY)."""
    where = "p.dataset_id = %s AND ST_Within(p.geom, ST_GeomFromText(%s, 4326))"
    buffer = _copy_out(_django_raw(), _chunk_query({}, where), [dataset.pk, area_wkt])
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
        f"SELECT e.point_id, e.values FROM {bulk.EXTRA_TABLE} e JOIN {bulk.POINT_TABLE} p"
        " ON p.id = e.point_id WHERE p.dataset_id = %s AND p.id BETWEEN %s AND %s"
        " ORDER BY e.point_id"
    )
    buffer = _copy_out(_django_raw(), query, [dataset.pk, int(ids[0]), int(ids[-1])])
    dtype = np.dtype(
        [
            ("fields", ">i2"),
            ("id_length", ">i4"),
            ("id", ">i8"),
            ("values_length", ">i4"),
            ("values", EXTRA_DTYPE, (width,)),
        ]
    )
    rows = np.frombuffer(
        buffer, dtype=dtype, offset=COPY_HEADER_BYTES, count=_row_count(buffer, dtype.itemsize)
    )
    if np.any(rows["values_length"] != width * EXTRA_DTYPE.itemsize):
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
        f"COPY (SELECT pid FROM {bulk.POINT_TABLE} WHERE dataset_id = {int(dataset.pk)}"
        f" AND id BETWEEN {int(bounds[0])} AND {int(bounds[1])} ORDER BY id) TO STDOUT"
    )
    with _django_raw().cursor() as cursor, cursor.copy(sql) as copy:
        for data in copy:
            out.write(data)
    text = out.getvalue().decode()
    return np.array(text.split("\n")[:-1] if text else [], dtype=str)


def _id_range(ids: np.ndarray) -> list[int]:
    return [int(ids.min()), int(ids.max())] if len(ids) else [0, -1]


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
            copy.write(bulk.COPY_HEADER)
            columns = [bulk.fixed_column(ids, ">i8")]
            columns += [bulk.fixed_column(parameters[name], ">f4") for name in names]
            copy.write(bulk.pack_binary_rows(columns).data)
            copy.write(bulk.COPY_TRAILER)
        assignments = ", ".join(f"{name} = t.{name}" for name in names)
        # The id range lets the planner scan only this chunk's slice of the primary key;
        # without it, every chunk hash-joins against the whole points table.
        cursor.execute(
            f"UPDATE {bulk.POINT_TABLE} p SET {assignments} FROM processing_parameters t"
            " WHERE p.id = t.id AND p.id BETWEEN %s AND %s",
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
        bulk.copy_series(ids, series, table="processing_series")
        cursor.execute(
            f"UPDATE {bulk.SERIES_TABLE} s SET displacements = t.displacements"
            " FROM processing_series t WHERE s.point_id = t.point_id"
            " AND s.point_id BETWEEN %s AND %s",
            _id_range(ids),
        )
