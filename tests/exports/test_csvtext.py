"""The CSV row formatter (numba) against Python's own formatting and the csv module."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from groundmotion.exports.csvtext import choose_decimals, format_rows

RANDOM = np.random.default_rng(11)


def pid_matrix(pids: list[str], width: int = 32) -> np.ndarray:
    encoded = np.array([pid.encode() for pid in pids], dtype=f"S{width}")
    return encoded.view(np.uint8).reshape(len(pids), width)


def python_number(value: float, decimals: int, least: int) -> str:
    """The reference: Python's fixed-point formatting, trailing zeros dropped down to least."""
    if np.isnan(value):
        return ""
    text = f"{value:.{max(decimals, least)}f}"
    while "." in text and len(text.split(".")[1]) > least and text.endswith("0"):
        text = text[:-1]
    text = text.rstrip(".")
    return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text


def test_rows_match_python_formatting_value_by_value() -> None:
    count = 300
    statics = np.column_stack(
        [
            RANDOM.normal(0, 50, count),
            RANDOM.uniform(-180, 180, count),
            RANDOM.integers(0, 20000, count).astype(float),
            RANDOM.normal(0, 1e6, count),
        ]
    )
    statics[5, 1] = np.nan
    statics[6, 0] = -0.0001  # rounds to zero: written "0.0", not "-0.0"
    statics[7, 0] = 12.0  # a float column writes 12.0, as EGMS (Python) does
    decimals = np.array([3, 7, 0, 2])
    least = np.array([1, 1, 0, 1])
    series = RANDOM.normal(0, 300, (count, 40)).astype(np.float32)
    series[2, :4] = np.nan
    series[3, 0] = 3276.7
    pids = [f"P{i:09d}" for i in range(count)]

    text = format_rows(pid_matrix(pids), statics, decimals, least, series).decode()

    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == count
    for row, pid, values, displacements in zip(rows, pids, statics, series, strict=True):
        expected = [pid]
        expected += [
            python_number(v, int(d), int(k))
            for v, d, k in zip(values, decimals, least, strict=True)
        ]
        expected += [python_number(float(v), 1, 1) for v in displacements]
        assert row == expected


def test_pids_with_commas_and_quotes_are_quoted() -> None:
    pids = ["plain", "with,comma", 'say "hi"', "é,ü"]
    text = format_rows(
        pid_matrix(pids),
        np.zeros((4, 1)),
        np.array([0]),
        np.array([0]),
        np.zeros((4, 2), dtype=np.float32),
    ).decode()
    assert [row[0] for row in csv.reader(io.StringIO(text))] == pids


def test_an_empty_block_gives_no_bytes() -> None:
    places = np.zeros(3, dtype=int)
    empty = format_rows(
        pid_matrix([]), np.zeros((0, 3)), places, places, np.zeros((0, 5), dtype=np.float32)
    )
    assert empty == b""


def test_a_displacement_beyond_exact_integers_is_refused() -> None:
    with pytest.raises(ValueError, match="too large"):
        places = np.zeros(0, dtype=int)
        format_rows(
            pid_matrix(["a"]),
            np.zeros((1, 0)),
            places,
            places,
            np.array([[1e16]], dtype=np.float32),
        )


@pytest.mark.parametrize(
    ("values", "stored", "expected"),
    [
        (np.array([1.234, -0.5, 12.0]), np.float32, 3),
        (np.array([4598649.23, 1739717.35]), np.float64, 2),
        (np.array([1043.0, 11607.0, np.nan]), np.float64, 0),
        (np.array([38.690647, 13.171623]), np.float64, 6),
        (np.array([np.nan, np.nan]), np.float64, 0),
    ],
)
def test_decimals_are_the_fewest_that_give_back_the_stored_value(values, stored, expected):
    stored_values = values.astype(stored)
    decimals = choose_decimals(stored_values, stored)
    assert decimals == expected
    finite = np.isfinite(values)
    written = np.array([float(f"{v:.{decimals}f}") for v in stored_values[finite]])
    assert np.array_equal(written.astype(stored), stored_values[finite])
