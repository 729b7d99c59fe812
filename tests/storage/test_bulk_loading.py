"""Binary COPY of points and series: what goes in comes back out, NaN as NULL."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from groundmotion.models import MeasurementPoint, PointSeries
from groundmotion.storage import copy_in
from tests.factories import DATES, make_dataset


@pytest.mark.django_db
def test_it_round_trips_points_attributes_and_series() -> None:
    rng = np.random.default_rng(3)
    count = 1234
    lon, lat = rng.uniform(-2, 2, count), rng.uniform(40, 45, count)
    series = rng.normal(0, 5, (count, len(DATES))).astype(np.float32)
    dataset = make_dataset(
        "round-trip", lon=lon, lat=lat, velocity=rng.normal(0, 3, count), series=series
    )

    points = list(dataset.points.order_by("pid").values_list("pid", "geom", "velocity", "id"))
    assert len(points) == count
    assert points[17][0] == "ROUN000017"
    assert points[17][1].x == pytest.approx(lon[17], abs=1e-12)
    assert points[17][1].y == pytest.approx(lat[17], abs=1e-12)
    stored = PointSeries.objects.get(point_id=points[17][3]).values()
    np.testing.assert_allclose(stored, series[17], atol=0.05 + 1e-6)  # 0.1 mm quantisation


@pytest.mark.django_db
def test_it_stores_nan_attributes_as_null() -> None:
    dataset = make_dataset("nulls")
    ids = copy_in.reserve_point_ids(3, dataset.pk)
    coherence = np.array([0.5, np.nan, 0.7])
    copy_in.copy_points(
        dataset,
        ids,
        np.array(["a", "bb", "ccc"]),
        np.zeros(3),
        np.zeros(3),
        {"temporal_coherence": coherence},
    )
    values = dict(
        MeasurementPoint.objects.filter(dataset=dataset).values_list("pid", "temporal_coherence")
    )
    assert values["bb"] is None
    assert values["a"] == pytest.approx(0.5)
    assert values["ccc"] == pytest.approx(0.7)
    assert MeasurementPoint.objects.get(dataset=dataset, pid="bb").height is None


@pytest.mark.django_db
def test_it_refuses_unknown_attributes() -> None:
    dataset = make_dataset("unknown")
    with pytest.raises(ValueError, match="colour"):
        copy_in.copy_points(
            dataset,
            np.array([1]),
            np.array(["x"]),
            np.zeros(1),
            np.zeros(1),
            {"colour": np.zeros(1)},
        )


@pytest.mark.django_db
def test_it_counts_points_sets_extent_and_bumps_version() -> None:
    dataset = make_dataset("summary", lon=[1.0, 2.0, 1.5], lat=[43.0, 44.0, 43.5])
    assert dataset.point_count == 3
    min_lon, min_lat, max_lon, max_lat = dataset.extent.extent
    assert (min_lon, min_lat) == pytest.approx((1.0, 43.0), abs=1e-5)
    assert (max_lon, max_lat) == pytest.approx((2.0, 44.0), abs=1e-5)
    assert dataset.version == 2


@pytest.mark.django_db
def test_a_200_date_series_stays_inline_below_the_toast_threshold() -> None:
    dataset = make_dataset("inline")
    ids = copy_in.reserve_point_ids(1, dataset.pk)
    copy_in.copy_points(dataset, ids, np.array(["p"]), np.zeros(1), np.zeros(1), {})
    copy_in.copy_series(ids, np.ones((1, 200), dtype=np.float32))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_size(displacements), pg_column_size(s.*),"
            " pg_relation_size(reltoastrelid) FROM groundmotion_pointseries s, pg_class"
            " WHERE point_id = %s AND pg_class.oid = s.tableoid",  # the partition holding it
            [int(ids[0])],
        )
        value_size, row_size, toast_size = cursor.fetchone()
    assert value_size == 4 + 1 + 200 * 2  # varlena header, tag, int16 per date
    assert row_size < 2032
    assert toast_size == 0


@pytest.mark.django_db
def test_a_series_beyond_the_int16_range_round_trips_as_float32() -> None:
    dataset = make_dataset("collapse")
    ids = copy_in.reserve_point_ids(2, dataset.pk)
    copy_in.copy_points(dataset, ids, np.array(["big", "small"]), np.zeros(2), np.zeros(2), {})
    series = np.array([[0.0, -4000.123, np.nan], [0.0, -12.34, np.nan]], dtype=np.float32)
    copy_in.copy_series(ids, series)
    big = PointSeries.objects.get(point_id=int(ids[0])).values()
    small = PointSeries.objects.get(point_id=int(ids[1])).values()
    np.testing.assert_array_equal(big, series[0])
    np.testing.assert_allclose(small[:2], [0.0, -12.3], atol=1e-5)
    assert np.isnan(small[2])
