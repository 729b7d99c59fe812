"""groundmotion/analysis.py: what a period, a reference and two dates mean, and the errors
that name the parameter."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.http import Http404

from groundmotion.analysis import (
    Analysis,
    AnalysisError,
    analysed_series,
    dataset_years,
    date_pair,
    parse_analysis,
    period_mask,
    resolve_reference,
)
from groundmotion.models import MaskedArea, MeasurementPoint, Visibility
from tests.factories import DATES, make_dataset

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2022-13-01"}, "start"),
        ({"start": "2022-03-01", "end": "2022-01-01"}, "end"),
        ({"from": "2022-01-01"}, "to"),
        ({"to": "2022-01-01"}, "from"),
        ({"reference": "12x"}, "reference"),
        ({"reference": "0"}, "reference"),
        ({"reference_area": "POLYGON((0 0, 1 1))"}, "reference_area"),
        ({"reference_area": "POINT(0 0)"}, "reference_area"),
        ({"reference_area": "POLYGON((0 0,1 1,1 0,0 1,0 0))"}, "reference_area"),
        (
            {"reference": "5", "reference_area": "POLYGON((0 0,0.01 0,0.01 0.01,0 0))"},
            "reference_area",
        ),
        ({"changes": "2"}, "changes"),
        ({"start": "2022-01-01", "changes": "-1"}, "changes"),
        ({"start": "2022-01-01", "changes": "two"}, "changes"),
    ],
)
def test_bad_parameters_name_the_field(params: dict, field: str) -> None:
    with pytest.raises(AnalysisError) as raised:
        parse_analysis(params)
    assert list(raised.value.as_dict()) == [field]


def test_nothing_asked_is_plain_and_keys_differ_per_question() -> None:
    assert parse_analysis({}).is_plain and parse_analysis({}).key() == ""
    keys = {
        parse_analysis(params).key()
        for params in (
            {"start": "2022-01-01"},
            {"end": "2022-01-01"},
            {"start": "2022-01-01", "end": "2022-06-01"},
            {"reference": "7"},
            {"from": "2022-01-01", "to": "2022-03-01"},
            {"start": "2022-01-01", "changes": "2"},
            {"start": "2022-01-01", "changes": "3"},
        )
    }
    assert len(keys) == 7 and "" not in keys


def test_period_mask_holds_the_acquisitions_between_the_dates() -> None:
    dataset = make_dataset("period")
    analysis = parse_analysis({"start": "2022-01-10", "end": "2022-02-20"})
    mask = period_mask(dataset, analysis)
    expected = [datetime.date(2022, 1, 10) <= d <= datetime.date(2022, 2, 20) for d in DATES]
    assert mask.tolist() == expected and mask.sum() == 7
    assert period_mask(dataset, Analysis()) is None
    with pytest.raises(AnalysisError, match="holds 1 acquisition of this dataset"):
        period_mask(dataset, parse_analysis({"start": "2022-06-04", "end": "2022-06-09"}))


def test_two_dates_take_the_nearest_acquisitions() -> None:
    dataset = make_dataset("dates")
    analysis = parse_analysis({"from": "2022-01-02", "to": "2022-01-17"})
    assert date_pair(dataset, analysis) == (0, 3)  # 01-01 is nearest 01-02, 01-19 nearest 01-17
    with pytest.raises(AnalysisError) as raised:
        date_pair(dataset, parse_analysis({"from": "2022-01-01", "to": "2022-01-02"}))
    assert raised.value.field == "to"
    years = dataset_years(dataset)
    assert years[0] == 0 and years[1] == pytest.approx(6 / 365.25)


def test_a_point_reference_is_its_series_and_puts_itself_at_zero(anonymous) -> None:
    series = np.random.default_rng(3).normal(0, 4, (3, len(DATES))).astype(np.float32)
    dataset = make_dataset(
        "ref", lon=[13.0, 13.1, 13.2], lat=[38.0] * 3, velocity=[1.0, -2.0, 3.0], series=series
    )
    ids = list(
        MeasurementPoint.objects.filter(dataset=dataset).order_by("id").values_list("id", flat=True)
    )
    reference = resolve_reference(anonymous, dataset, parse_analysis({"reference": str(ids[1])}))
    assert reference.point_id == ids[1] and reference.velocity == pytest.approx(-2.0)
    relative = analysed_series(series, reference)
    np.testing.assert_allclose(relative, series.astype(float) - series[1].astype(float), atol=0.06)
    # The reference's own stored series minus itself: exactly 0 at every date.
    assert np.abs(analysed_series(reference.series[np.newaxis, :], reference)).max() == 0


def test_a_reference_the_user_may_not_see_is_a_404_and_another_dataset_s_a_400(
    anonymous, partners
) -> None:
    hidden = make_dataset(
        "hidden", visibility=Visibility.RESTRICTED, groups=[partners], lon=[13.0], lat=[38.0]
    )
    shown = make_dataset("shown", lon=[13.0], lat=[38.0])
    hidden_id = MeasurementPoint.objects.get(dataset=hidden).pk
    shown_other = make_dataset("other", lon=[13.0], lat=[38.0])
    other_id = MeasurementPoint.objects.get(dataset=shown_other).pk
    with pytest.raises(Http404):
        resolve_reference(anonymous, shown, parse_analysis({"reference": str(hidden_id)}))
    with pytest.raises(AnalysisError, match="not in dataset shown"):
        resolve_reference(anonymous, shown, parse_analysis({"reference": str(other_id)}))


def test_an_area_reference_is_the_mean_of_the_visible_points_inside(anonymous) -> None:
    rng = np.random.default_rng(4)
    series = rng.normal(0, 4, (4, len(DATES))).astype(np.float32)
    dataset = make_dataset(
        "area",
        lon=[13.0, 13.001, 13.002, 13.5],
        lat=[38.0] * 4,
        velocity=[1.0, 2.0, 30.0, 9.0],
        series=series,
    )
    masked = Polygon.from_bbox((13.0015, 37.99, 13.0025, 38.01))
    MaskedArea.objects.create(name="mask", geom=MultiPolygon(masked))
    area = "POLYGON((12.99 37.99, 13.01 37.99, 13.01 38.01, 12.99 38.01, 12.99 37.99))"
    reference = resolve_reference(anonymous, dataset, parse_analysis({"reference_area": area}))
    # The masked third point contributes nothing; the fourth is outside.
    np.testing.assert_allclose(reference.series, series[:2].astype(float).mean(axis=0), atol=0.06)
    assert reference.velocity == pytest.approx(1.5) and reference.count == 2
    empty = "POLYGON((14 37, 14.01 37, 14.01 37.01, 14 37.01, 14 37))"
    with pytest.raises(AnalysisError, match="no point"):
        resolve_reference(anonymous, dataset, parse_analysis({"reference_area": empty}))
