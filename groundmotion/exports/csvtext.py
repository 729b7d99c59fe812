"""CSV text of point rows, formatted by a numba kernel from integers: no per-value Python.

Pure numpy/numba, no Django. Every number is written from an integer: a static value v with
d decimals as rint(v * 10^d) with the decimal point put back (trailing zeros dropped, as EGMS
writes them), a displacement always with one decimal (EGMS's 0.1 mm). NaN is an empty field.
Two passes over each block, both parallel over rows: the exact byte length of every row,
then the text written at its offset, so the output buffer is allocated once, exactly.
pandas' to_csv formats through Python float objects (~0.2 us per value); this runs at
~10-20 ns per value.
"""

from __future__ import annotations

import numpy as np

from processing.kernels._numba import exact_kernel, prange

_COMMA, _QUOTE, _NEWLINE, _RETURN, _MINUS, _DOT, _ZERO = 44, 34, 10, 13, 45, 46, 48
MAX_DECIMALS = 9
# Largest scaled integer written exactly (float64 integers are exact below 2^53).
_EXACT_LIMIT = 2.0**53
_POWERS = np.array([10.0**i for i in range(MAX_DECIMALS + 1)])


@exact_kernel(inline=True)
def _digit_count(value):
    count = 1
    while value >= 10:
        value //= 10
        count += 1
    return count


@exact_kernel()
def _number(out, position, scaled, decimals, least, write):
    """Write (or only measure) the integer `scaled` as a decimal with `decimals` places.

    Trailing zeros of the fraction are dropped down to `least` places (1 writes -1.0 as
    Python's repr does, 0 writes -1). Returns the position after the text.
    """
    negative = scaled < 0
    magnitude = -scaled if negative else scaled
    shown = decimals
    while shown > least and magnitude % 10 == 0:
        magnitude //= 10
        shown -= 1
    if magnitude == 0:
        negative = False  # "-0" and "-0.0" read back as zero anyway; write them plainly
    digits = max(_digit_count(magnitude), shown + 1)
    length = digits + (1 if shown > 0 else 0) + (1 if negative else 0)
    if not write:
        return position + length
    if negative:
        out[position] = _MINUS
    end = position + length
    cursor = end - 1
    for place in range(digits):
        if shown > 0 and place == shown:
            out[cursor] = _DOT
            cursor -= 1
        out[cursor] = _ZERO + magnitude % 10
        magnitude //= 10
        cursor -= 1
    return end


@exact_kernel(inline=True)
def _text_extent(data):
    """(length before the NUL padding, whether CSV needs the field quoted)."""
    length = 0
    quoted = False
    while length < data.shape[0] and data[length] != 0:
        byte = data[length]
        quoted |= (byte == _COMMA) | (byte == _QUOTE) | (byte == _NEWLINE)
        quoted |= byte == _RETURN
        length += 1
    return length, quoted


@exact_kernel()
def _text(out, position, data, write):
    """Write (or measure) a NUL-padded text field, quoted when it holds a comma, quote or
    line break (RFC 4180), with inner quotes doubled."""
    length, quoted = _text_extent(data)
    if quoted:
        if write:
            out[position] = _QUOTE
        position += 1
    for index in range(length):
        if write:
            out[position] = data[index]
        position += 1
        if quoted and data[index] == _QUOTE:
            if write:
                out[position] = _QUOTE
            position += 1
    if quoted:
        if write:
            out[position] = _QUOTE
        position += 1
    return position


@exact_kernel()
def _row(out, position, pid, statics, decimals, least, series, write):
    position = _text(out, position, pid, write)
    for column in range(statics.shape[0]):
        if write:
            out[position] = _COMMA
        position += 1
        value = statics[column]
        if not np.isnan(value):
            scaled = np.int64(np.rint(value * _POWERS[decimals[column]]))
            position = _number(out, position, scaled, decimals[column], least[column], write)
    for column in range(series.shape[0]):
        if write:
            out[position] = _COMMA
        position += 1
        tenths = series[column]
        if not np.isnan(tenths):
            position = _number(out, position, np.int64(np.rint(tenths * 10.0)), 1, 1, write)
    if write:
        out[position] = _NEWLINE
    return position + 1


@exact_kernel(parallel=True)
def _format(pids, statics, decimals, least, series):
    rows = pids.shape[0]
    lengths = np.empty(rows, dtype=np.int64)
    scratch = np.empty(0, dtype=np.uint8)
    for row in prange(rows):
        lengths[row] = _row(
            scratch, 0, pids[row], statics[row], decimals, least, series[row], False
        )
    ends = np.cumsum(lengths)
    out = np.empty(ends[-1] if rows else 0, dtype=np.uint8)
    for row in prange(rows):
        start = ends[row] - lengths[row]
        _row(out, start, pids[row], statics[row], decimals, least, series[row], True)
    return out


def format_rows(
    pids: np.ndarray,
    statics: np.ndarray,
    decimals: np.ndarray,
    least: np.ndarray,
    series: np.ndarray,
) -> bytes:
    """CSV lines for a block of points.

    pids: (n, width) uint8, UTF-8 NUL-padded; statics: (n, columns) float64, NaN for empty,
    written with decimals[column] places (0..MAX_DECIMALS), trailing zeros dropped down to
    least[column] places (0 for integer columns, 1 for floats: -1.0 as Python writes it); series:
    (n, dates) float32 mm, written with one decimal. Values must be finite or NaN and
    |value| * 10^decimals below 2^53 (see choose_decimals).
    """
    statics = np.ascontiguousarray(statics, dtype=np.float64)
    if len(pids) and np.nanmax(np.abs(series), initial=0.0) * 10 >= _EXACT_LIMIT:
        raise ValueError("a displacement is too large to write with one decimal")
    decimals = np.ascontiguousarray(decimals, dtype=np.int64)
    least = np.ascontiguousarray(least, dtype=np.int64)
    decimals = np.maximum(decimals, least)
    return _format(
        np.ascontiguousarray(pids, dtype=np.uint8),
        statics,
        decimals,
        least,
        np.ascontiguousarray(series, dtype=np.float32),
    ).tobytes()


def choose_decimals(values: np.ndarray, stored: type = np.float64) -> int:
    """The fewest decimals (0..MAX_DECIMALS) that read back as the same `stored` value for
    every value of a column: what the source file wrote, for values that came from one.

    Values stored as float32 compare after a float32 cast, so 1.234 (float32) gives 3, not
    the 8 that its float64 expansion 1.2339999675... would need.
    """
    finite = values[np.isfinite(values)].astype(np.float64)
    if not len(finite):
        return 0
    target = finite.astype(stored)
    magnitude = float(np.abs(finite).max())
    for decimals in range(MAX_DECIMALS + 1):
        if magnitude * _POWERS[decimals] >= _EXACT_LIMIT:
            return max(decimals - 1, 0)
        if np.array_equal(np.round(finite, decimals).astype(stored), target):
            return decimals
    return MAX_DECIMALS
