"""Moving points and series between PostgreSQL and numpy with binary COPY.

Rows are parsed as fixed-width numpy records, never one by one in Python. NULL floats come
out as NaN (COALESCE), so every row has the same layout. Reads of committed data split the
id range over several connections in parallel (psycopg releases the GIL while copying).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psycopg
from django.db import connection

from groundmotion import bulk, series_codec
from groundmotion.models import Dataset

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
        buffer, dtype=[("fields", ">i2"), ("length", ">i4"), ("id", ">i8")],
        offset=COPY_HEADER_BYTES, count=_row_count(buffer, 14),
    )  # fmt: skip
    return rows["id"].astype(np.int64)


def chunk_bounds(ids: np.ndarray, size: int = CHUNK_POINTS) -> list[tuple[int, int]]:
    """Inclusive id ranges of at most `size` points each."""
    return [(int(ids[s]), int(ids[min(s + size, len(ids)) - 1])) for s in range(0, len(ids), size)]


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


def _chunk_query(columns: dict[str, str]) -> str:
    selected = "".join(f", COALESCE({sql}, 'NaN')::float8" for sql in columns.values())
    return (
        f"SELECT p.id{selected}, s.displacements FROM {bulk.POINT_TABLE} p"
        f" JOIN {bulk.SERIES_TABLE} s ON s.point_id = p.id"
        " WHERE p.dataset_id = %s AND p.id BETWEEN %s AND %s ORDER BY p.id"
    )


def _parse_chunk(buffer: bytes, columns: list[str], dates: int) -> dict[str, np.ndarray]:
    dtype = _chunk_dtype(columns, dates)
    body = len(buffer) - COPY_HEADER_BYTES - 2
    rows = None
    if body % dtype.itemsize == 0:
        rows = np.frombuffer(buffer, dtype=dtype, offset=COPY_HEADER_BYTES,
                             count=body // dtype.itemsize)  # fmt: skip
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


def read_chunk(
    dataset: Dataset, bounds: tuple[int, int], columns: dict[str, str], parallel: bool = False
) -> dict[str, np.ndarray]:
    """Points with ids in the inclusive bounds: id, the asked columns (float64), series."""
    query = _chunk_query(columns)
    dates = len(dataset.acquisition_dates)
    names = list(columns)
    if not parallel:
        buffer = _copy_out(_django_raw(), query, [dataset.pk, *bounds])
        return _parse_chunk(buffer, names, dates)
    middle = (bounds[0] + bounds[1]) // 2
    ranges = [(bounds[0], middle), (middle + 1, bounds[1])][:PARALLEL_READERS]

    def read(part: tuple[int, int]) -> dict[str, np.ndarray]:
        with _fresh_connection() as raw:
            return _parse_chunk(_copy_out(raw, query, [dataset.pk, *part]), names, dates)

    with ThreadPoolExecutor(len(ranges)) as pool:
        parts = list(pool.map(read, ranges))
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def iterate_chunks(
    dataset: Dataset, columns: dict[str, str], size: int = CHUNK_POINTS
) -> Iterator[tuple[float, dict[str, np.ndarray]]]:
    """(fraction done, chunk) over the whole dataset, in id order, memory bounded by `size`."""
    ids = point_ids(dataset)
    bounds = chunk_bounds(ids, size)
    parallel = committed_elsewhere(dataset)
    for number, part in enumerate(bounds):
        yield (number + 1) / len(bounds), read_chunk(dataset, part, columns, parallel)


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
        cursor.execute(
            f"UPDATE {bulk.POINT_TABLE} p SET {assignments} FROM processing_parameters t"
            " WHERE p.id = t.id"
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
        )
