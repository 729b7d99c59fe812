"""OGC API - Features at /ogc/: the documents, items paged by keyset, filters checked against
shapely and numpy on the same points, the access rules (restricted, masked, reduced, tokens)
and bad parameters named in a 400."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import MultiPolygon, Polygon

from accounts.tokens import create_token
from groundmotion import cells
from groundmotion.models import MaskedArea, MeasurementPoint, PointSeries, Visibility
from ogc import items
from tests.factories import client_for, make_dataset

pytestmark = pytest.mark.django_db
rng = np.random.default_rng(16)
COUNT = 250
LON = rng.uniform(-1.06, -1.04, COUNT)
LAT = rng.uniform(43.70, 43.72, COUNT)
VELOCITY = rng.normal(0, 4, COUNT)
MASK_BOX = (-1.06, 43.70, -1.055, 43.705)


def get(client, path: str, **headers):
    return client.get(path, **headers)


def page_through(client, path: str, **headers) -> list[dict]:
    """Every feature, following next links as a client would."""
    features, url = [], path
    while url:
        body = client.get(url, **headers).json()
        features += body["features"]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return features


@pytest.fixture
def public():
    return make_dataset("ogc-public", lon=LON, lat=LAT, velocity=VELOCITY)


@pytest.fixture
def restricted(partners):
    return make_dataset(
        "ogc-secret",
        lon=LON,
        lat=LAT,
        velocity=VELOCITY,
        visibility=Visibility.RESTRICTED,
        groups=[partners],
    )


def test_the_landing_page_links_the_api_conformance_and_collections(public) -> None:
    body = client_for().get("/ogc/").json()
    rels = {link["rel"]: link for link in body["links"]}
    assert rels["service-desc"]["href"].endswith("/ogc/api")
    assert rels["conformance"]["href"].endswith("/ogc/conformance")
    assert rels["data"]["href"].endswith("/ogc/collections")
    assert rels["self"]["href"].startswith("http://")
    classes = client_for().get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes
    definition = client_for().get("/ogc/api")
    assert definition["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert "/collections/{collectionId}/items" in definition.json()["paths"]


def test_html_by_f_or_accept_and_json_otherwise(public) -> None:
    client = client_for()
    assert client.get("/ogc/collections")["Content-Type"] == "application/json"
    browser = client.get("/ogc/collections", HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert browser["Content-Type"].startswith("text/html")
    assert b"ogc-public" in browser.content
    assert client.get("/ogc/collections?f=html")["Content-Type"].startswith("text/html")
    items = client.get("/ogc/collections/ogc-public/items?f=json")
    assert items["Content-Type"] == "application/geo+json"
    page = client.get("/ogc/collections/ogc-public/items?f=html&limit=10")
    assert page.status_code == 200 and page.content.count(b"<tr>") == 11  # header + 10
    bad = client.get("/ogc/collections?f=xml")
    assert bad.status_code == 400 and bad.json()["parameter"] == "f"


def test_a_collection_describes_its_dataset(public) -> None:
    body = client_for().get("/ogc/collections/ogc-public").json()
    assert body["id"] == "ogc-public" and body["itemType"] == "feature"
    west, south, east, north = body["extent"]["spatial"]["bbox"][0]
    assert (east, south) == pytest.approx((LON.max(), LAT.min()), abs=1e-6)
    assert west == pytest.approx(LON.min(), abs=1e-6) and north == pytest.approx(
        LAT.max(), abs=1e-6
    )
    start, end = body["extent"]["temporal"]["interval"][0]
    assert start.startswith(public.acquisition_dates[0].isoformat())
    assert end.startswith(public.acquisition_dates[-1].isoformat())
    assert body["level"] == "l2a" and body["component"] == "los"
    assert body["track"]["pass"] == "ascending"
    rels = {link["rel"] for link in body["links"]}
    assert {"items", "self", "alternate", "describedby", "stylesheet"} <= rels


def test_paging_returns_every_visible_point_once_in_id_order(public) -> None:
    client = client_for()
    first = client.get("/ogc/collections/ogc-public/items?limit=60").json()
    assert first["numberMatched"] == COUNT and first["numberReturned"] == 60
    features = page_through(client, "/ogc/collections/ogc-public/items?limit=60")
    ids = [feature["id"] for feature in features]
    assert ids == sorted(ids) and len(set(ids)) == COUNT
    stored = dict(MeasurementPoint.objects.filter(dataset=public).values_list("id", "velocity"))
    assert set(ids) == set(stored)
    for feature in features:
        assert feature["properties"]["velocity"] == pytest.approx(stored[feature["id"]], abs=1e-3)


def test_bbox_and_velocity_ranges_select_what_shapely_and_numpy_select(public) -> None:
    box = (-1.055, 43.705, -1.045, 43.712)
    path = f"/ogc/collections/ogc-public/items?limit=1000&bbox={','.join(map(str, box))}"
    body = client_for().get(path + "&velocity_min=-2&velocity_max=3").json()
    inside = shapely.intersects(shapely.box(*box), shapely.points(LON, LAT))
    expected = inside & (VELOCITY >= -2) & (VELOCITY <= 3)
    assert body["numberReturned"] == body["numberMatched"] == expected.sum() > 0
    got = sorted(tuple(feature["geometry"]["coordinates"]) for feature in body["features"])
    truth = sorted(
        (round(x, 7), round(y, 7)) for x, y in zip(LON[expected], LAT[expected], strict=True)
    )
    np.testing.assert_allclose(np.array(got), np.array(truth), atol=2e-7)


def test_series_are_opt_in(public) -> None:
    plain = client_for().get("/ogc/collections/ogc-public/items?limit=1").json()["features"][0]
    assert "displacement" not in plain["properties"]
    path = f"/ogc/collections/ogc-public/items/{plain['id']}?series=true"
    feature = client_for().get(path).json()
    stored = PointSeries.objects.get(point_id=plain["id"]).values()
    assert feature["properties"]["dates"][0] == public.acquisition_dates[0].isoformat()
    assert len(feature["properties"]["displacement"]) == len(public.acquisition_dates)
    assert feature["properties"]["displacement"] == pytest.approx(stored.tolist(), abs=0.006)


def test_a_datetime_outside_the_acquisitions_matches_nothing(public) -> None:
    client = client_for()
    last = public.acquisition_dates[-1]
    inside = client.get(f"/ogc/collections/ogc-public/items?datetime={last.isoformat()}/..")
    assert inside.json()["numberReturned"] > 0
    after = client.get(f"/ogc/collections/ogc-public/items?datetime={last.year + 1}-01-01/..")
    assert after.json()["numberReturned"] == 0 and after.json()["numberMatched"] == 0


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=ten", "limit"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=10,0,5,1", "bbox"),
        ("bbox=0,0,1,nan", "bbox"),
        ("velocity_min=fast", "velocity_min"),
        ("datetime=yesterday", "datetime"),
        ("datetime=2021-01-01/2020-01-01", "datetime"),
        ("after=-1", "after"),
        ("bbox-crs=EPSG:4326", "bbox-crs"),
        ("colour=red", "colour"),
    ],
)
def test_a_bad_parameter_is_a_400_that_names_it(public, query: str, parameter: str) -> None:
    response = client_for().get(f"/ogc/collections/ogc-public/items?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidParameterValue" and body["parameter"] == parameter
    assert parameter in body["description"]


def test_a_restricted_collection_exists_only_for_its_group(restricted, member, outsider) -> None:
    for client in (client_for(), client_for(outsider)):
        assert "ogc-secret" not in [
            c["id"] for c in client.get("/ogc/collections").json()["collections"]
        ]
        for path in ("", "/items", "/queryables", "/items/1"):
            response = client.get(f"/ogc/collections/ogc-secret{path}")
            assert response.status_code == 404 and response.json()["code"] == "NotFound"
    token = create_token(member, "gis")[1]
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
    listed = client_for().get("/ogc/collections", **headers).json()["collections"]
    assert "ogc-secret" in [c["id"] for c in listed]
    assert (
        len(page_through(client_for(), "/ogc/collections/ogc-secret/items?limit=100", **headers))
        == COUNT
    )
    wrong = client_for().get("/ogc/collections", HTTP_AUTHORIZATION="Token gms_wrong")
    assert wrong.status_code == 401


def test_masked_points_never_appear(public, curator) -> None:
    square = Polygon.from_bbox(MASK_BOX)
    square.srid = 4326
    area = MaskedArea.objects.create(name="depot", geom=MultiPolygon(square), reason="x")
    area.datasets.set([public])
    cells.refresh_masked_datasets(area)
    masked = shapely.intersects(shapely.box(*MASK_BOX), shapely.points(LON, LAT))
    assert masked.sum() > 0
    client = client_for()
    features = page_through(client, "/ogc/collections/ogc-public/items?limit=100")
    assert len(features) == COUNT - masked.sum()
    assert client.get("/ogc/collections/ogc-public/items").json()["numberMatched"] == len(features)
    inside = client.get(f"/ogc/collections/ogc-public/items?bbox={','.join(map(str, MASK_BOX))}")
    assert inside.json()["numberReturned"] == 0 and inside.json()["numberMatched"] == 0
    hidden = MeasurementPoint.objects.filter(dataset=public, geom__intersects=square).first()
    assert client.get(f"/ogc/collections/ogc-public/items/{hidden.pk}").status_code == 404


def test_a_reduced_collection_gives_anonymous_users_cells_and_signed_in_users_points(
    registered,
) -> None:
    dense_lon = rng.uniform(-1.10, -1.00, 3000)
    dense_lat = rng.uniform(43.65, 43.75, 3000)
    dense_velocity = rng.normal(0, 4, 3000)
    dataset = make_dataset(
        "ogc-reduced",
        lon=dense_lon,
        lat=dense_lat,
        velocity=dense_velocity,
        visibility=Visibility.REDUCED,
    )
    body = client_for().get("/ogc/collections/ogc-reduced/items?limit=1000").json()
    assert body["features"] and body["numberMatched"] == body["numberReturned"]
    floor = cells.reduced_cell_m()
    for feature in body["features"]:
        assert feature["id"].startswith("cell-") and "pid" not in feature["properties"]
        ring = np.array(feature["geometry"]["coordinates"][0])
        width_m = (
            (ring[:, 0].max() - ring[:, 0].min()) * 111_320 * np.cos(np.radians(ring[:, 1].max()))
        )
        height_m = (ring[:, 1].max() - ring[:, 1].min()) * 110_574
        assert width_m >= floor * 0.99 and height_m >= floor * 0.99
        assert feature["properties"]["count"] >= cells.reduced_min_points()
        inside = shapely.contains_xy(shapely.Polygon(ring), dense_lon, dense_lat)
        assert feature["properties"]["count"] == inside.sum()
        assert feature["properties"]["velocity"] == pytest.approx(
            dense_velocity[inside].mean(), abs=1e-3
        )
    # Cells with too few points are left out (cells.REDUCED_LEAF_SQL), never shown finer.
    assert 0.9 * 3000 < sum(f["properties"]["count"] for f in body["features"]) <= 3000
    one = body["features"][0]
    again = client_for().get(f"/ogc/collections/ogc-reduced/items/{one['id']}").json()
    assert again["properties"] == one["properties"]
    point_id = MeasurementPoint.objects.filter(dataset=dataset).first().pk
    assert client_for().get(f"/ogc/collections/ogc-reduced/items/{point_id}").status_code == 404
    signed_in = client_for(registered).get("/ogc/collections/ogc-reduced/items?limit=10").json()
    assert signed_in["numberMatched"] == 3000 and "pid" in signed_in["features"][0]["properties"]


def test_filtered_pages_count_their_matches_only_up_to_the_limit(public, monkeypatch) -> None:
    box = "-1.06,43.70,-1.05,43.71"
    inside = shapely.intersects(shapely.box(-1.06, 43.70, -1.05, 43.71), shapely.points(LON, LAT))
    path = f"/ogc/collections/ogc-public/items?bbox={box}&limit=5"
    monkeypatch.setattr(items, "COUNT_LIMIT", int(inside.sum()))
    assert client_for().get(path).json()["numberMatched"] == inside.sum()
    monkeypatch.setattr(items, "COUNT_LIMIT", int(inside.sum()) - 1)
    body = client_for().get(path).json()
    assert "numberMatched" not in body and body["numberReturned"] == 5
