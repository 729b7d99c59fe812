"""Point detail, plots, CSV and the model endpoint with a period and a reference (issue 15).

References are plain numpy: np.polyfit and the OLS formula for slopes and their stds,
np.linalg.lstsq on an independently built design for every model, the stored series decoded
for the subtraction.
"""

from __future__ import annotations

import csv
import datetime
import io

import numpy as np
import pytest
from django.urls import reverse

from groundmotion.api import series
from groundmotion.models import Dataset, PointSeries, Visibility
from groundmotion.storage import copy_in, series_codec
from tests.factories import DATES, client_for, make_dataset

pytestmark = pytest.mark.django_db

# Two years of 12-day acquisitions, for models with a seasonal term and a step.
LONG_DATES = [datetime.date(2020, 1, 3) + datetime.timedelta(days=12 * i) for i in range(61)]
LONG_YEARS = np.array([(d - LONG_DATES[0]).days / 365.25 for d in LONG_DATES])
YEARS = np.array([(d - DATES[0]).days / 365.25 for d in DATES])


def dataset_with(slug: str, dates: list, series: np.ndarray, lon=None, lat=None, **options):
    """A public dataset with the given dates and (points x dates) series, mm."""
    dataset = make_dataset(slug, **options)
    Dataset.objects.filter(pk=dataset.pk).update(acquisition_dates=dates)
    dataset.refresh_from_db()
    count = len(series)
    lon = np.linspace(-1.05, -1.04, count) if lon is None else np.asarray(lon, dtype=float)
    lat = np.full(count, 43.7) if lat is None else np.asarray(lat, dtype=float)
    ids = copy_in.reserve_point_ids(count, dataset.pk)
    pids = np.array([f"{slug[:4].upper()}{i:06d}" for i in range(count)])
    slopes = np.array([np.polyfit(LONG_YEARS[: len(dates)], row, 1)[0] for row in series])
    copy_in.copy_points(
        dataset,
        ids,
        pids,
        lon,
        lat,
        {"velocity": slopes, "temporal_coherence": np.full(count, 0.9)},
    )
    copy_in.copy_series(ids, np.asarray(series, dtype=np.float32))
    copy_in.refresh_summary(dataset)
    return dataset, [int(i) for i in ids]


def stored(point_id: int) -> np.ndarray:
    """The series as the database holds it (the codec rounds to 0.1 mm), float64."""
    raw = PointSeries.objects.get(point_id=point_id).displacements
    return series_codec.decode(raw).astype(np.float64)


def ols_slope(years: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Slope and its std by the textbook formula: s² / Σ(t - t̄)²."""
    slope, intercept = np.polyfit(years, values, 1)
    residuals = values - (slope * years + intercept)
    variance = (residuals**2).sum() / (len(years) - 2)
    return slope, float(np.sqrt(variance / ((years - years.mean()) ** 2).sum()))


@pytest.fixture
def noisy():
    """Three points with different trends and noise over the factory's 30 dates."""
    rng = np.random.default_rng(15)
    matrix = np.array([v * YEARS + rng.normal(0, 1.5, len(YEARS)) for v in (-6.0, 2.0, 9.0)])
    return make_dataset(
        "noisy",
        lon=[-1.05, -1.04, -1.03],
        lat=[43.7] * 3,
        velocity=[-6.0, 2.0, 9.0],
        series=matrix,
    )


def ids_of(dataset) -> list[int]:
    return list(dataset.points.order_by("pid").values_list("id", flat=True))


def detail(point_id: int, user=None, **params):
    return client_for(user).get(reverse("api-point", args=[point_id]), params)


def test_period_velocity_and_std_match_the_ols_formula(noisy):
    point = ids_of(noisy)[2]
    body = detail(point, start="2022-01-20", end="2022-04-20").json()
    inside = np.array(
        [datetime.date(2022, 1, 20) <= d <= datetime.date(2022, 4, 20) for d in DATES]
    )
    slope, std = ols_slope(YEARS[inside], stored(point)[inside])
    period = body["period"]
    assert period["count"] == inside.sum() == 15
    assert period["velocity"] == pytest.approx(slope, abs=2e-3)
    assert period["velocity_std"] == pytest.approx(std, abs=2e-3)
    assert period["first_date"] == DATES[np.flatnonzero(inside)[0]].isoformat()
    assert (period["start"], period["end"]) == ("2022-01-20", "2022-04-20")
    assert body["reference"] is None
    # The stored velocity is untouched: the period has its own block.
    assert body["velocity"] == 9.0


def test_plain_detail_has_empty_blocks(noisy):
    body = detail(ids_of(noisy)[0]).json()
    assert body["period"] is None and body["reference"] is None


def test_reference_point_is_zero_and_others_are_the_numpy_difference(noisy):
    first, second, third = ids_of(noisy)
    itself = detail(second, reference=second, start="2022-01-01").json()
    assert itself["displacements"] == [0.0] * len(DATES)
    assert itself["period"]["velocity"] == pytest.approx(0.0, abs=1e-6)
    body = detail(third, reference=first).json()
    expected = stored(third) - stored(first)
    assert np.allclose(body["displacements"], expected, atol=1e-3)
    reference = body["reference"]
    assert reference["point_id"] == first and reference["label"] == f"point {first}"
    velocities = dict(noisy.points.values_list("id", "velocity"))
    assert reference["velocity"] == pytest.approx(velocities[first], abs=1e-3)
    relative = velocities[third] - velocities[first]
    assert reference["relative_velocity"] == pytest.approx(relative, abs=1e-3)
    # The model is fitted to the difference.
    assert body["model"]["fitted"] == series.fit_model(DATES, expected)["fitted"]
    # Period and reference together: the slope of the difference.
    both = detail(third, reference=first, start="2022-02-01", end="2022-05-30").json()
    inside = np.array([datetime.date(2022, 2, 1) <= d <= datetime.date(2022, 5, 30) for d in DATES])
    slope, std = ols_slope(YEARS[inside], expected[inside])
    assert both["period"]["velocity"] == pytest.approx(slope, abs=2e-3)
    assert both["period"]["velocity_std"] == pytest.approx(std, abs=2e-3)


def test_reference_area_is_the_mean_of_the_points_inside(noisy):
    first, second, third = ids_of(noisy)
    area = "POLYGON((-1.055 43.69, -1.035 43.69, -1.035 43.71, -1.055 43.71, -1.055 43.69))"
    body = detail(third, reference_area=area).json()
    mean = (stored(first) + stored(second)) / 2
    assert np.allclose(body["displacements"], stored(third) - mean, atol=1e-3)
    assert body["reference"]["label"] == "area mean of 2 points"
    assert body["reference"]["point_id"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2022-02-30"}, "start"),
        ({"start": "2022-03-01", "end": "2022-01-01"}, "end"),
        ({"start": "2022-01-01", "end": "2022-01-08"}, "start"),  # two acquisitions only
        ({"reference": "abc"}, "reference"),
        ({"reference_area": "POINT(0 0)"}, "reference_area"),
    ],
)
@pytest.mark.parametrize("route", ["api-point", "api-point-series-csv", "api-point-plot-png"])
def test_bad_parameters_are_400_naming_the_field(noisy, params, field, route):
    response = client_for().get(reverse(route, args=[ids_of(noisy)[0]]), params)
    assert response.status_code == 400
    assert field in response.json()


def test_a_reference_in_another_dataset_is_400_and_a_hidden_one_404(noisy, partners, member):
    other = make_dataset("other", lon=[-1.0], lat=[43.7])
    hidden = make_dataset(
        "hidden", visibility=Visibility.RESTRICTED, groups=[partners], lon=[-1.0], lat=[43.7]
    )
    point = ids_of(noisy)[0]
    response = detail(point, reference=ids_of(other)[0])
    assert response.status_code == 400 and "reference" in response.json()
    assert detail(point, reference=ids_of(hidden)[0]).status_code == 404
    missing = max(ids_of(hidden)) + 10_000
    assert detail(point, reference=missing).status_code == 404
    # The partner sees it: then it is merely another dataset's point.
    assert detail(point, member, reference=ids_of(hidden)[0]).status_code == 400


def csv_rows(response) -> tuple[list[str], list[dict]]:
    text = response.content.decode()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return comments, list(csv.DictReader(io.StringIO(body)))


def test_csv_says_the_reference_and_period_and_has_their_columns(noisy):
    first, _, third = ids_of(noisy)
    url = reverse("api-point-series-csv", args=[third])
    response = client_for().get(url, {"reference": first, "start": "2022-02-01"})
    assert response.status_code == 200
    comments, rows = csv_rows(response)
    assert any(f"reference: point {first}" in line for line in comments)
    assert any("period 2022-02-01 to …" in line and "mm/yr" in line for line in comments)
    assert list(rows[0]) == [
        "date",
        "los_mm",
        "model_mm",
        "model_std_mm",
        "reference_mm",
        "in_period",
    ]
    values = np.array([float(row["los_mm"]) for row in rows])
    assert np.allclose(values, stored(third) - stored(first), atol=1e-3)
    assert np.allclose([float(row["reference_mm"]) for row in rows], stored(first), atol=1e-3)
    expected = [int(d >= datetime.date(2022, 2, 1)) for d in DATES]
    assert [int(row["in_period"]) for row in rows] == expected
    # Nothing asked: the columns stay as they were.
    plain = csv_rows(client_for().get(url))[1]
    assert list(plain[0]) == ["date", "los_mm", "model_mm", "model_std_mm"]


@pytest.mark.parametrize(
    ("route", "magic"), [("api-point-plot-png", b"\x89PNG"), ("api-point-plot-svg", b"<?xml")]
)
def test_plots_take_the_same_parameters(noisy, route, magic):
    first, _, third = ids_of(noisy)
    url = reverse(route, args=[third])
    response = client_for().get(
        url, {"reference": first, "start": "2022-02-01", "end": "2022-05-01"}
    )
    assert response.status_code == 200 and response.content.startswith(magic)
    if route.endswith("svg"):
        text = response.content.decode()
        assert f"relative to point {first}" in text and "over the period" in text


# The model endpoint -----------------------------------------------------------------------


def design(years: np.ndarray, terms: list[str], step: float | None = None) -> np.ndarray:
    """The test's own design matrix: offset, velocity, [t²/2], [sin, cos 2πt], [step]."""
    columns = [np.ones_like(years), years]
    if "acceleration" in terms:
        columns.append(years**2 / 2)
    if "seasonal" in terms:
        columns += [np.sin(2 * np.pi * years), np.cos(2 * np.pi * years)]
    if step is not None:
        columns.append((years >= step).astype(float))
    return np.column_stack(columns)


def lstsq_fit(matrix: np.ndarray, values: np.ndarray):
    coefficients, *_ = np.linalg.lstsq(matrix, values, rcond=None)
    residuals = values - matrix @ coefficients
    variance = (residuals**2).sum() / (len(values) - matrix.shape[1])
    cov = np.linalg.inv(matrix.T @ matrix) * variance
    return coefficients, cov, np.sqrt(variance)


@pytest.fixture
def long_dataset():
    rng = np.random.default_rng(7)
    t = LONG_YEARS
    truth = (
        1.0 - 4.0 * t + 1.5 * t**2 / 2 + 3.0 * np.sin(2 * np.pi * t) - 2.0 * np.cos(2 * np.pi * t)
    )
    step = np.array([12.0 if d >= datetime.date(2021, 2, 1) else 0.0 for d in LONG_DATES])
    matrix = np.array(
        [truth + rng.normal(0, 0.8, t.size), truth + step + rng.normal(0, 0.8, t.size)]
    )
    matrix[0, [5, 17]] = np.nan  # missing acquisitions are left out
    return dataset_with("long", LONG_DATES, matrix)


def model(point_id: int, **params):
    return client_for().get(reverse("api-point-model", args=[point_id]), params)


@pytest.mark.parametrize(
    "terms", [[], ["acceleration"], ["seasonal"], ["acceleration", "seasonal"]]
)
@pytest.mark.parametrize("period", [None, ("2020-03-01", "2021-09-30")])
def test_each_model_matches_lstsq_on_the_same_design(long_dataset, terms, period):
    _, (point, _) = long_dataset
    params = {"terms": ",".join(terms)}
    window = np.ones(len(LONG_DATES), dtype=bool)
    if period:
        params.update(start=period[0], end=period[1])
        first, last = (datetime.date.fromisoformat(text) for text in period)
        window = np.array([first <= d <= last for d in LONG_DATES])
    response = model(point, **params)
    assert response.status_code == 200, response.content
    body = response.json()
    values = stored(point)
    used = window & np.isfinite(values)
    matrix = design(LONG_YEARS, terms)
    coefficients, cov, spread = lstsq_fit(matrix[used], values[used])
    found = {item["name"]: item for item in body["parameters"]}
    names = ["offset", "velocity"] + (["acceleration"] if "acceleration" in terms else [])
    names += ["seasonal_sin", "seasonal_cos"] if "seasonal" in terms else []
    for index, name in enumerate(names):
        assert found[name]["value"] == pytest.approx(coefficients[index], abs=2e-4)
        assert found[name]["std"] == pytest.approx(np.sqrt(cov[index, index]), abs=2e-4)
    units = {item["name"]: item["unit"] for item in body["parameters"]}
    assert units["velocity"] == "mm/yr" and units["offset"] == "mm"
    assert units.get("acceleration", "mm/yr²") == "mm/yr²"
    assert body["residual_std_mm"] == pytest.approx(spread, abs=1e-3)
    assert body["count"] == used.sum()
    assert body["terms"] == terms and body["replica_mm"] == 27.73
    fitted = np.array([np.nan if v is None else v for v in body["fitted"]])
    assert np.isnan(fitted[~window]).all()
    assert np.allclose(fitted[window], (matrix @ coefficients)[window], atol=2e-3)
    trend_columns = [1] + ([2] if "acceleration" in terms else [])
    trend = matrix[:, trend_columns] @ coefficients[trend_columns]
    detrended = np.array([np.nan if v is None else v for v in body["detrended"]])
    assert np.allclose(detrended, values - trend, atol=2e-3, equal_nan=True)
    if "seasonal" in terms:
        s, c = names.index("seasonal_sin"), names.index("seasonal_cos")
        amplitude = np.hypot(coefficients[s], coefficients[c])
        gradient = np.array([coefficients[s], coefficients[c]]) / amplitude
        std = np.sqrt(gradient @ cov[np.ix_([s, c], [s, c])] @ gradient)
        assert found["seasonal_amplitude"]["value"] == pytest.approx(amplitude, abs=2e-4)
        assert found["seasonal_amplitude"]["std"] == pytest.approx(std, abs=2e-4)
    else:
        assert "seasonal_amplitude" not in found


def test_a_step_is_recovered_from_synthetic_data(long_dataset):
    _, (plain, stepped) = long_dataset
    body = model(stepped, terms="acceleration,seasonal", step="2021-02-01").json()
    found = {item["name"]: item for item in body["parameters"]}
    assert body["terms"] == ["acceleration", "seasonal", "step"] and body["step"] == "2021-02-01"
    # Truth: step 12 mm, velocity -4 mm/yr, acceleration 1.5, amplitude hypot(3, 2); noise 0.8.
    for name, truth in [("step", 12.0), ("velocity", -4.0), ("acceleration", 1.5)]:
        assert abs(found[name]["value"] - truth) < 4 * found[name]["std"] + 0.05
    assert found["seasonal_amplitude"]["value"] == pytest.approx(np.hypot(3, 2), abs=0.5)
    assert found["step"]["unit"] == "mm" and found["step"]["std"] < 0.6
    # Same data with no step in it: the fitted step is nil within its std.
    none = {
        item["name"]: item
        for item in model(plain, terms="acceleration,seasonal", step="2021-02-01").json()[
            "parameters"
        ]
    }
    assert abs(none["step"]["value"]) < 4 * none["step"]["std"] + 0.05
    # The step and the reference: a point minus itself has no step.
    itself = model(stepped, step="2021-02-01", reference=stepped).json()
    assert {item["name"]: item for item in itself["parameters"]}["step"]["value"] == 0.0


def test_detrended_keeps_the_step_and_season(long_dataset):
    _, (_, stepped) = long_dataset
    body = model(stepped, terms="seasonal", step="2021-02-01").json()
    values = np.array(body["displacements"], dtype=float)
    detrended = np.array(body["detrended"], dtype=float)
    velocity = {item["name"]: item["value"] for item in body["parameters"]}["velocity"]
    assert np.allclose(values - detrended, velocity * LONG_YEARS, atol=2e-3)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"terms": "acceleration,cubic"}, "terms"),
        ({"terms": "step"}, "terms"),
        ({"step": "2019-06-01"}, "step"),
        ({"step": "2020-01-03"}, "step"),  # the first date: nothing before it
        ({"step": "2023-01-01"}, "step"),
        ({"step": "2021-02-30"}, "step"),
        ({"step": "2021-06-01", "start": "2020-01-01", "end": "2021-01-01"}, "step"),
        ({"start": "2020-01-01", "end": "2020-01-04"}, "start"),
        ({"reference": "-3"}, "reference"),
    ],
)
def test_model_limits_are_400_naming_the_field(long_dataset, params, field):
    _, (point, _) = long_dataset
    response = model(point, **params)
    assert response.status_code == 400 and field in response.json()


def test_model_of_a_hidden_point_is_404(partners, member, outsider):
    dataset = make_dataset(
        "secret", visibility=Visibility.RESTRICTED, groups=[partners], lon=[-1.0], lat=[43.7]
    )
    url = reverse("api-point-model", args=[ids_of(dataset)[0]])
    assert client_for(member).get(url).status_code == 200
    assert client_for(outsider).get(url).status_code == 404
    assert client_for().get(url).status_code == 404
