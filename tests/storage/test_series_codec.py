"""The stored series encoding, checked against plain arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from groundmotion.storage import series_codec


def rows_of(matrix: np.ndarray, lengths: np.ndarray) -> list[bytes]:
    return [matrix[i, : lengths[i]].tobytes() for i in range(len(lengths))]


def test_it_keeps_values_to_a_tenth_of_a_millimetre() -> None:
    rng = np.random.default_rng(0)
    series = rng.normal(0, 300, (500, 200))
    matrix, lengths = series_codec.encode(series)
    assert set(lengths) == {1 + 2 * 200}
    decoded = series_codec.decode_many(rows_of(matrix, lengths), 200)
    np.testing.assert_array_less(np.abs(decoded - series), 0.05 + 1e-3)
    expected = np.round(series * 10) / 10  # independent: decimal rounding to 0.1 mm
    np.testing.assert_allclose(decoded, expected, atol=1e-3)


def test_missing_dates_come_back_as_nan() -> None:
    series = np.array([[1.0, np.nan, -2.5]])
    matrix, lengths = series_codec.encode(series)
    decoded = series_codec.decode(rows_of(matrix, lengths)[0])
    assert np.isnan(decoded[1])
    np.testing.assert_allclose(decoded[[0, 2]], [1.0, -2.5])


def test_out_of_range_series_are_stored_as_float32_and_exact() -> None:
    series = np.array([[0.0, 5000.25, -1.0], [0.0, 1.0, 2.0]])
    matrix, lengths = series_codec.encode(series)
    assert list(lengths) == [1 + 4 * 3, 1 + 2 * 3]
    rows = rows_of(matrix, lengths)
    assert series_codec.decode(rows[0])[1] == np.float32(5000.25)
    decoded = series_codec.decode_many(rows, 3)
    np.testing.assert_allclose(decoded, series, atol=1e-3)


def test_values_at_the_limit_still_use_int16() -> None:
    matrix, lengths = series_codec.encode(np.array([[3276.7, -3276.7]]))
    assert lengths[0] == 5
    np.testing.assert_allclose(
        series_codec.decode(matrix[0, :5].tobytes()), [3276.7, -3276.7], atol=1e-3
    )


def test_an_unknown_tag_is_refused() -> None:
    with pytest.raises(ValueError, match="tag"):
        series_codec.decode(b"\x09\x00\x00")
