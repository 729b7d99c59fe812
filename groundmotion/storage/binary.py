"""PostgreSQL's binary COPY format, as numpy sees it.

A COPY stream is a 19-byte header, then rows, then a 2-byte trailer (-1). A row is its field
count (int16), then each field as its byte length (int32, -1 for NULL) and its bytes, all in
network byte order. When every field has a fixed width, a block of rows is one numpy record
array: `row_dtype` spells the record, `records` reads it without a Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_HEADER_BYTES = len(COPY_HEADER)
COPY_TRAILER = b"\xff\xff"


def row_dtype(fields: Sequence[tuple]) -> np.dtype:
    """The record of a row of these (name, numpy type[, shape]) fields, each after its length
    (`<name>_length`), behind the field count."""
    record: list[tuple] = [("field_count", ">i2")]
    for name, *kind in fields:
        record += [(f"{name}_length", ">i4"), (name, *kind)]
    return np.dtype(record)


def records(stream: bytes, dtype: np.dtype) -> np.ndarray | None:
    """The rows of a whole COPY stream (header to trailer) as `dtype` records, or None when the
    rows are not all of that width (a field of another size, or a NULL in a fixed field)."""
    body = len(stream) - COPY_HEADER_BYTES - len(COPY_TRAILER)
    if body < 0 or body % dtype.itemsize:
        return None
    return np.frombuffer(
        stream, dtype=dtype, offset=COPY_HEADER_BYTES, count=body // dtype.itemsize
    )
