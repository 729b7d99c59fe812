"""Mapbox Vector Tile encoding of point features computed in Python (analysis tiles).

Plain tiles are encoded by PostGIS (ST_AsMVT). Analysis tiles are computed in numpy after the
query, and sending 8,000 features back to PostGIS as arrays cost more than the fit (psycopg
quotes every element: ~170 ms a tile); this writes the same protobuf directly.

Layout (MVT 2.1): a layer of version 2, its name, point features (id, tags, type POINT, one
MoveTo in tile pixels), keys, values (float_value for floats, uint_value for counts), extent.
Values are deduplicated, as ST_AsMVT does, so attributes rounded to 0.1 share table entries.
"""

from __future__ import annotations

import struct

import numpy as np

from processing.kernels._numba import exact_kernel

POINT = 1
MOVE_TO_ONE = (1 & 0x7) | (1 << 3)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return varint((number << 3) | 2) + varint(len(payload)) + payload


@exact_kernel()
def _write_varint(buffer, at, value):
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            buffer[at] = byte | 0x80
            at += 1
        else:
            buffer[at] = byte
            return at + 1


@exact_kernel()
def _zigzag(value):
    return (value << 1) ^ (value >> 63)


@exact_kernel()
def _varint_size(value):
    size = 1
    while value >= 128:
        value >>= 7
        size += 1
    return size


@exact_kernel()
def _encode_features(ids, has_ids, xs, ys, tags, buffer):
    """Every feature as a layer field 2, into `buffer`; returns the bytes written."""
    at = 0
    n, k = tags.shape
    for i in range(n):
        tag_bytes = 0
        for j in range(k):
            if tags[i, j] >= 0:
                tag_bytes += 1 + _varint_size(tags[i, j])  # key j < 128: one byte
        x = _zigzag(xs[i])
        y = _zigzag(ys[i])
        geometry = 1 + _varint_size(x) + _varint_size(y)
        size = 0
        if has_ids:
            size += 1 + _varint_size(ids[i])
        if tag_bytes:
            size += 1 + _varint_size(tag_bytes) + tag_bytes
        size += 2 + 1 + _varint_size(geometry) + geometry
        buffer[at] = (2 << 3) | 2
        at = _write_varint(buffer, at + 1, size)
        if has_ids:
            buffer[at] = (1 << 3) | 0
            at = _write_varint(buffer, at + 1, ids[i])
        if tag_bytes:
            buffer[at] = (2 << 3) | 2
            at = _write_varint(buffer, at + 1, tag_bytes)
            for j in range(k):
                if tags[i, j] >= 0:
                    buffer[at] = j
                    at = _write_varint(buffer, at + 1, tags[i, j])
        buffer[at] = (3 << 3) | 0
        buffer[at + 1] = POINT
        buffer[at + 2] = (4 << 3) | 2
        at = _write_varint(buffer, at + 3, geometry)
        buffer[at] = MOVE_TO_ONE
        at = _write_varint(buffer, at + 1, x)
        at = _write_varint(buffer, at, y)
    return at


def value_bytes(value: float, integer: bool) -> bytes:
    if integer:
        return varint((5 << 3) | 0) + varint(int(value))
    return varint((2 << 3) | 5) + struct.pack("<f", value)


def encode_points(
    layer: str,
    x: np.ndarray,
    y: np.ndarray,
    attributes: dict[str, np.ndarray | None],
    ids: np.ndarray | None = None,
    extent: int = 4096,
    integers: tuple[str, ...] = ("count",),
) -> bytes:
    """One layer of point features at tile pixels (x, y); attributes NaN (or None: the whole
    attribute) are left out of a feature, as ST_AsMVT leaves out NULLs."""
    count = len(x)
    if not count:
        return b""
    names = [name for name, values in attributes.items() if values is not None]
    tags = np.full((count, len(names)), -1, dtype=np.int64)
    table: list[bytes] = []
    for column, name in enumerate(names):
        values = np.asarray(attributes[name], dtype=np.float64)
        known = np.isfinite(values)
        if not known.any():
            continue
        unique, inverse = np.unique(values[known].astype(np.float32), return_inverse=True)
        tags[known, column] = inverse + len(table)
        table += [value_bytes(float(value), name in integers) for value in unique]
    buffer = np.empty(count * (40 + 12 * len(names)), dtype=np.uint8)
    has_ids = ids is not None
    written = _encode_features(
        np.asarray(ids if has_ids else np.zeros(count), dtype=np.int64),
        has_ids,
        np.rint(x).astype(np.int64),
        np.rint(y).astype(np.int64),
        tags,
        buffer,
    )
    # Fields in number order, as PostGIS writes them: name, features, keys, values, extent,
    # version.
    body = (
        field(1, layer.encode())
        + buffer[:written].tobytes()
        + b"".join(field(3, name.encode()) for name in names)
        + b"".join(field(4, value) for value in table)
        + varint((5 << 3) | 0)
        + varint(extent)
        + varint((15 << 3) | 0)
        + varint(2)
    )
    return field(3, body)
