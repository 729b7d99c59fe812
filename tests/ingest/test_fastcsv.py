"""The numba block parser against Python's float() and the csv module (independent readers)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from groundmotion.ingest import fastcsv


def parse(text: str, columns: int, text_columns: tuple[int, ...] = (0,)) -> tuple:
    targets = np.full(columns, fastcsv.TEXT, dtype=np.int64)
    numeric = [c for c in range(columns) if c not in text_columns]
    targets[numeric] = np.arange(len(numeric))
    return fastcsv.parse(text.encode(), ",", targets, len(numeric))


def test_values_equal_python_float_for_random_decimals() -> None:
    rng = np.random.default_rng(11)
    numbers = np.concatenate([rng.normal(0, 30, 3000), rng.uniform(-1e6, 1e6, 1000)])
    formats = ["%.1f", "%.3f", "%.6f", "%.2e", "%.15g"]
    fields = [fmt % value for value in numbers for fmt in formats]
    fields += ["0", "-0.0", "+.5", "5.", "1e3", "1E-3", "007.50", " 2.5 ", "123456789012.125"]
    # Past the one-pass path's reach (more than 22 decimals, 18 digits), and its edge cases.
    fields += ["0.000000000000000012345", "-.5", "1234567890123456789012.5", ".0"]
    rows = [fields[i : i + 5] for i in range(0, len(fields) - len(fields) % 5, 5)]
    text = "".join(f"P{i}," + ",".join(row) + "\n" for i, row in enumerate(rows))

    values, starts, ends, row_line, status, _, _ = parse(text, 6)

    assert status == fastcsv.OK
    reference = np.array([[float(field) for field in row] for row in rows])
    np.testing.assert_array_equal(values, reference)
    assert np.array_equal(row_line, np.arange(len(rows)))
    first = text.encode()[starts[3, 0] : ends[3, 0]]
    assert first == b"P3"


def test_empty_and_null_words_are_nan_and_crlf_and_blank_lines_are_handled() -> None:
    text = "a,,nan\r\n\nb,NA,null\r\nc,1.5,2"
    values, starts, ends, row_line, status, _, _ = parse(text, 3)
    assert status == fastcsv.OK
    assert np.isnan(values[:2]).all()
    assert values[2].tolist() == [1.5, 2.0]
    assert row_line.tolist() == [0, 2, 3]
    assert text.encode()[starts[1, 0] : ends[1, 0]] == b"b"


@pytest.mark.parametrize(
    ("text", "status", "line", "column"),
    [
        ("a,1,2\nb,1\n", fastcsv.RAGGED_SHORT, 1, 2),
        ("a,1,2\nb,1,2,3\n", fastcsv.RAGGED_LONG, 1, 3),
        ("a,1,2\nb,1,x\n", fastcsv.NOT_A_NUMBER, 1, 2),
        ("a,1e,2\n", fastcsv.NOT_A_NUMBER, 0, 1),
        ("a,inf,2\n", fastcsv.NOT_A_NUMBER, 0, 1),
        ("a,1.2.3,2\n", fastcsv.NOT_A_NUMBER, 0, 1),
        ("a,1.5\rx,2\n", fastcsv.NOT_A_NUMBER, 0, 1),
        ("a,-,2\n", fastcsv.NOT_A_NUMBER, 0, 1),
        ("a,1,2-\n", fastcsv.NOT_A_NUMBER, 0, 2),
    ],
)
def test_it_stops_at_the_first_bad_field(text, status, line, column) -> None:
    *_, found_status, found_line, found_column = parse(text, 3)
    assert (found_status, found_line, found_column) == (status, line, column)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[line][0] in "ab"  # the line it names is the row the csv module reads there
