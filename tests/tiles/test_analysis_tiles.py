"""Tiles of an analysis: period velocity, reference, two dates and changes, against plain numpy
on the same series; access rules and caches as for every tile."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from groundmotion.models import MaskedArea, MeasurementPoint, Visibility
from groundmotion.storage import series_codec
from tests.factories import DATES, client_for, make_dataset
from tests.mvt import tile_of

pytestmark = pytest.mark.django_db

YEARS = np.array([(d - DATES[0]).days / 365.25 for d in DATES])
START, END = DATES[8].isoformat(), DATES[22].isoformat()
WINDOW = (YEARS[8] <= YEARS) & (YEARS[22] >= YEARS)
LON, LAT = 13.17, 38.70


def decode(response) -> dict:
    import mapbox_vector_tile

    if response.status_code != 200 or not response.content:
        return {}
    layers = mapbox_vector_tile.decode(response.content)
    return {name: layer["features"] for name, layer in layers.items()}


def synthetic(count: int, seed: int = 15) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points in a 300 m square whose motion changes rate halfway: (lon, lat, velocity, series)."""
    rng = np.random.default_rng(seed)
    lon = LON + rng.random(count) * 0.003
    lat = LAT + rng.random(count) * 0.003
    early, late = rng.normal(0, 5, count), rng.normal(-8, 5, count)
    kink = YEARS[15]
    series = np.where(
        kink > YEARS, early[:, None] * YEARS, early[:, None] * kink + late[:, None] * (YEARS - kink)
    )
    series = series + rng.normal(0, 1.0, series.shape)
    velocity = np.array([np.polyfit(YEARS, row, 1)[0] for row in series])
    return lon, lat, velocity, series.astype(np.float32)


def stored(series: np.ndarray) -> np.ndarray:
    """What the database gives back: the series after the int16 codec (0.1 mm)."""
    matrix, _ = series_codec.encode(series)
    return series_codec.decode_many([bytes(row) for row in matrix], series.shape[1]).astype(float)


def point_tile(client, slug: str, **params) -> tuple[int, dict]:
    zoom, x, y = tile_of(LON + 0.0015, LAT + 0.0015, 15)
    response = client.get(f"/tiles/{slug}/{zoom}/{x}/{y}.pbf", params)
    return response.status_code, decode(response)


def by_id(dataset) -> dict[int, int]:
    ids = (
        MeasurementPoint.objects.filter(dataset=dataset)
        .order_by("pid")
        .values_list("id", flat=True)
    )
    return {point_id: index for index, point_id in enumerate(ids)}


@pytest.fixture
def changing():
    lon, lat, velocity, series = synthetic(120)
    dataset = make_dataset("changing", lon=lon, lat=lat, velocity=velocity, series=series)
    return dataset, velocity, stored(series)


def test_a_period_tile_s_velocities_are_numpy_slopes_over_the_window(changing) -> None:
    dataset, _, series = changing
    status, layers = point_tile(client_for(), dataset.slug, start=START, end=END)
    assert status == 200
    index = by_id(dataset)
    features = layers["points"]
    plain = point_tile(client_for(), dataset.slug)[1]["points"]
    assert {f["id"] for f in features} == {f["id"] for f in plain} and len(features) > 50
    for feature in features:
        row = series[index[feature["id"]]]
        expected = np.polyfit(YEARS[WINDOW], row[WINDOW], 1)[0]
        assert feature["properties"]["velocity"] == pytest.approx(expected, abs=0.051)


def test_a_reference_point_is_at_zero_and_others_are_relative(changing) -> None:
    dataset, velocity, series = changing
    index = by_id(dataset)
    reference = next(iter(index))
    # Without a period: stored velocities minus the reference's, in SQL.
    status, layers = point_tile(client_for(), dataset.slug, reference=reference)
    assert status == 200
    for feature in layers["points"]:
        expected = velocity[index[feature["id"]]] - velocity[index[reference]]
        assert feature["properties"]["velocity"] == pytest.approx(expected, abs=0.051)
    # With a period: the slope of the difference of the series.
    status, layers = point_tile(
        client_for(), dataset.slug, reference=reference, start=START, end=END
    )
    relative = series - series[index[reference]]
    for feature in layers["points"]:
        expected = np.polyfit(YEARS[WINDOW], relative[index[feature["id"]], WINDOW], 1)[0]
        assert feature["properties"]["velocity"] == pytest.approx(expected, abs=0.051)
        if feature["id"] == reference:
            assert feature["properties"]["velocity"] == 0


def test_two_dates_give_the_displacement_between_the_nearest_acquisitions(changing) -> None:
    dataset, _, series = changing
    index = by_id(dataset)
    # 2022-01-03 is nearest DATES[0], DATES[20] + 2 days nearest DATES[20].
    later = DATES[20].toordinal() + 2
    import datetime

    to = datetime.date.fromordinal(later).isoformat()
    status, layers = point_tile(client_for(), dataset.slug, **{"from": "2022-01-03", "to": to})
    assert status == 200
    for feature in layers["points"]:
        row = series[index[feature["id"]]]
        assert feature["properties"]["displacement"] == pytest.approx(row[20] - row[0], abs=0.051)


def test_the_changes_layer_keeps_the_points_whose_period_departs_by_k_sigma(changing) -> None:
    dataset, velocity, series = changing
    index = by_id(dataset)
    late = YEARS[15] <= YEARS
    status, layers = point_tile(
        client_for(), dataset.slug, start=DATES[15].isoformat(), changes="3"
    )
    assert status == 200
    shown = {feature["id"]: feature["properties"] for feature in layers["points"]}
    assert 0 < len(shown) < len(index)
    for point_id, position in index.items():
        row = series[position]
        design = np.column_stack([np.ones(late.sum()), YEARS[late]])
        coefficients, residuals, *_ = np.linalg.lstsq(design, row[late], rcond=None)
        spread = np.sqrt(residuals[0] / (late.sum() - 2))
        centred = YEARS[late] - YEARS[late].mean()
        period_std = spread / np.sqrt((centred**2).sum())
        change = coefficients[1] - velocity[position]
        # velocity_std is not stored by the factory: the period's std alone.
        sigma = change / period_std
        if abs(sigma) >= 3.02:
            assert point_id in shown
            assert shown[point_id]["change"] == pytest.approx(change, abs=0.06)
        elif abs(sigma) < 2.98:
            assert point_id not in shown


def test_period_cells_are_the_mean_of_their_points_slopes(changing) -> None:
    dataset, _, series = changing
    zoom, x, y = tile_of(LON + 0.0015, LAT + 0.0015, 3)
    plain = decode(client_for().get(f"/tiles/{dataset.slug}/{zoom}/{x}/{y}.pbf"))["cells"]
    response = client_for().get(
        f"/tiles/{dataset.slug}/{zoom}/{x}/{y}.pbf", {"start": START, "end": END}
    )
    cells = decode(response)["cells"]
    assert len(cells) == len(plain) == 1  # a 300 m square is one cell at zoom 3
    slopes = [np.polyfit(YEARS[WINDOW], row[WINDOW], 1)[0] for row in series]
    assert cells[0]["properties"]["count"] == len(series)
    assert cells[0]["properties"]["velocity"] == pytest.approx(np.mean(slopes), abs=0.051)
    assert cells[0]["geometry"] == plain[0]["geometry"]


def test_masked_points_change_no_period_cell_and_appear_in_no_period_tile(changing) -> None:
    dataset, _, series = changing
    west, south = LON, LAT
    mask = Polygon.from_bbox((west - 0.001, south - 0.001, west + 0.0015, south + 0.004))
    MaskedArea.objects.create(name="secret", geom=MultiPolygon(mask))
    from groundmotion import cells

    cells.refresh_datasets([dataset.pk])
    places = MeasurementPoint.objects.filter(dataset=dataset).order_by("pid")
    outside = np.array(
        [point.x >= west + 0.0015 for point in places.values_list("geom", flat=True)]
    )
    assert 0 < outside.sum() < len(outside)
    zoom, x, y = tile_of(LON + 0.0015, LAT + 0.0015, 3)
    response = client_for().get(
        f"/tiles/{dataset.slug}/{zoom}/{x}/{y}.pbf", {"start": START, "end": END}
    )
    cell = decode(response)["cells"][0]["properties"]
    slopes = [np.polyfit(YEARS[WINDOW], row[WINDOW], 1)[0] for row in series[outside]]
    assert cell["count"] == outside.sum()
    assert cell["velocity"] == pytest.approx(np.mean(slopes), abs=0.051)
    _status, layers = point_tile(client_for(), dataset.slug, start=START, end=END)
    plain = point_tile(client_for(), dataset.slug)[1]["points"]
    assert {f["id"] for f in layers["points"]} == {f["id"] for f in plain}
    index = by_id(dataset)
    assert not any(not outside[index[f["id"]]] for f in layers["points"])


def test_reduced_datasets_give_anonymous_users_period_cells_with_enough_points(settings) -> None:
    lon, lat, velocity, series = synthetic(60)
    dataset = make_dataset(
        "reduced", visibility=Visibility.REDUCED, lon=lon, lat=lat, velocity=velocity, series=series
    )
    status, layers = point_tile(client_for(), dataset.slug, start=START, end=END)
    assert status == 200 and "points" not in layers
    assert all(c["properties"]["count"] >= 5 for c in layers.get("cells", []))
    total = sum(c["properties"]["count"] for c in layers["cells"])
    assert total <= len(series)
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "REDUCED_MIN_POINTS": 10_000}
    status, layers = point_tile(client_for(), dataset.slug, start=START, end=END)
    assert status == 200 and not layers.get("cells")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"start": DATES[5].isoformat(), "end": DATES[6].isoformat()}, "start"),
        ({"from": "2022-01-01"}, "to"),
        ({"reference": "abc"}, "reference"),
        ({"changes": "2"}, "changes"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(changing, params: dict, field: str) -> None:
    dataset = changing[0]
    zoom, x, y = tile_of(LON, LAT, 15)
    response = client_for().get(f"/tiles/{dataset.slug}/{zoom}/{x}/{y}.pbf", params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_a_reference_the_user_may_not_see_is_a_404_even_when_cached(
    changing, partners, member
) -> None:
    dataset = changing[0]
    secret = make_dataset(
        "secret", visibility=Visibility.RESTRICTED, groups=[partners], lon=[LON], lat=[LAT]
    )
    hidden = MeasurementPoint.objects.get(dataset=secret).pk
    zoom, x, y = tile_of(LON + 0.0015, LAT + 0.0015, 15)
    path = f"/tiles/{dataset.slug}/{zoom}/{x}/{y}.pbf"
    assert client_for().get(path, {"reference": hidden}).status_code == 404
    # Another dataset's point is no reference for this one, even for who may see it.
    assert client_for(member).get(path, {"reference": hidden}).status_code == 400
    inside = next(iter(by_id(dataset)))
    assert client_for(member).get(path, {"reference": inside}).status_code == 200
    secret_tile = f"/tiles/{secret.slug}/{zoom}/{x}/{y}.pbf"
    own = MeasurementPoint.objects.get(dataset=secret).pk
    assert client_for(member).get(secret_tile, {"reference": own}).status_code == 200
    # The member's tile is cached now; an anonymous user still gets a 404, not the tile.
    assert client_for().get(secret_tile, {"reference": own}).status_code == 404


def test_each_period_has_its_own_tile_and_etag(changing) -> None:
    dataset = changing[0]
    zoom, x, y = tile_of(LON + 0.0015, LAT + 0.0015, 15)
    path = f"/tiles/{dataset.slug}/{zoom}/{x}/{y}.pbf"
    first = client_for().get(path, {"start": START, "end": END})
    second = client_for().get(path, {"start": DATES[2].isoformat(), "end": END})
    plain = client_for().get(path)
    assert len({first["ETag"], second["ETag"], plain["ETag"]}) == 3
    v1 = sorted(f["properties"]["velocity"] for f in decode(first)["points"])
    v2 = sorted(f["properties"]["velocity"] for f in decode(second)["points"])
    assert v1 != v2
    assert first["Cache-Control"].startswith("public")
    referenced = client_for().get(path, {"reference": next(iter(by_id(dataset)))})
    assert referenced["Cache-Control"].startswith("private")
