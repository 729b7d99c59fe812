"""Malformed requests are 400s whose message names the field, never 500s.

Each case is an input a view could pass unchecked to the database or GEOS: NUL bytes, numbers
beyond int64 or a float, JSON nested too deep, bad geometries, bodies that are not JSON or not
UTF-8. tests/api/test_fuzz.py looks for more from the OpenAPI schema; these pin the known ones.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tokens import create_token
from groundmotion.models import DownloadPolicy, Level
from tests.factories import make_dataset

LON = [-1.05, -1.04, -1.03, -1.02]
LAT = [43.70, 43.70, 43.70, 43.70]
SQUARE = [[[-1.055, 43.69], [-1.035, 43.69], [-1.035, 43.71], [-1.055, 43.71], [-1.055, 43.69]]]
BOW_TIE = [[[-1.06, 43.69], [-1.03, 43.71], [-1.03, 43.69], [-1.06, 43.71], [-1.06, 43.69]]]
BBOX = "-1.07,43.69,-1.0,43.72"


@pytest.fixture
def dataset(db):
    return make_dataset("open", lon=LON, lat=LAT, level=Level.L2B)


def message(response) -> str:
    """The whole JSON body as text: a field's name may be a key or lead the detail."""
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    return json.dumps(response.json())


def assert_names(response, field: str) -> None:
    assert response.status_code == 400, response.content[:300]
    assert field in message(response)


def post_area(body: object, client: Client | None = None, raw: str | None = None):
    text = raw if raw is not None else json.dumps(body)
    return (client or Client()).post(
        reverse("api-area-mean"), text, content_type="application/json"
    )


# --- query strings, slugs and path parts -------------------------------------------------


@pytest.mark.parametrize("parameter", ["pid", "in_bbox", "velocity_min"])
def test_a_nul_in_a_points_filter_is_a_400_naming_it(dataset, parameter):
    response = Client().get(reverse("api-points", args=["open"]), {parameter: "a\x00b"})
    assert_names(response, parameter)


def test_a_nul_in_a_path_or_a_parameter_name_is_a_400(dataset):
    assert_names(Client().get("/api/datasets/a%00b/points/"), "path")
    assert_names(Client().get("/accounts/reset/a%00b/token/"), "path")
    assert_names(Client().get("/api/datasets/open/points/?pi%00d=1"), "pi\\\\0d")


def test_a_nul_in_a_token_or_a_cookie_is_a_400_naming_the_header(dataset):
    response = Client().get(reverse("api-datasets"), HTTP_AUTHORIZATION="Token gms_a\x00b_c")
    assert_names(response, "Authorization")
    raw = Client().get(reverse("api-datasets"), HTTP_COOKIE="sessionid=abcdefgh\x00ijklmnop")
    assert_names(raw, "Cookie")
    client = Client()  # the test client quotes it: "abcdefgh\000ijklmnop", a NUL once parsed
    client.cookies["sessionid"] = "abcdefgh\x00ijklmnop"
    assert_names(client.get(reverse("home")), "cookie sessionid")


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("in_bbox", "1e400,0,1,1"),
        ("in_bbox", "0,0,1," + "9" * 400),
        ("in_bbox", ",,,"),
        ("velocity_min", "1e400"),
        ("velocity_max", "-" + "9" * 400),
        ("coherence_min", "inf"),
    ],
)
def test_huge_numbers_in_points_filters_are_400s_naming_them(dataset, parameter, value):
    response = Client().get(reverse("api-points", args=["open"]), {parameter: value})
    assert_names(response, parameter)


def test_an_empty_numeric_filter_means_no_filter(dataset):
    """As in the README's URL template (?in_bbox=&velocity_min=&...); the schema says so."""
    query = {"in_bbox": "", "velocity_min": "", "velocity_max": "", "coherence_min": "", "pid": ""}
    response = Client().get(reverse("api-points", args=["open"]), query)
    assert response.status_code == 200
    assert response.json()["count"] == len(LON)


def test_a_path_under_the_api_that_matches_no_route_is_a_json_404(dataset):
    for path in (
        "/api/points/abc/",
        "/api/points/-1/plot.png",
        "/api/datasets/%C3%A9/points/",
        "/api/no-such/",
    ):
        response = Client().get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
    assert Client().get("/no-such/")["Content-Type"].startswith("text/html")  # the site's page


def test_tile_addresses_beyond_int64_are_404s(dataset):
    for zoom, x, y in ((10**30, 0, 0), (3, 2**64, 0), (3, 0, 10**30)):
        assert Client().get(f"/tiles/open/{zoom}/{x}/{y}.pbf").status_code == 404


@pytest.mark.parametrize("route", ["api-point", "api-point-plot-png", "api-point-series-csv"])
def test_a_point_id_beyond_int64_is_a_404_not_a_500(dataset, route):
    for point_id in (2**63, 10**30):
        assert Client().get(reverse(route, args=[point_id])).status_code == 404


# --- area-mean bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("geometry", "says"),
    [
        ({"type": "Polygon", "coordinates": "x"}, "coordinates must be an array"),
        ({"type": "Polygon"}, "coordinates must be an array"),
        ({"type": "Polygon", "coordinates": []}, "the polygon is empty"),
        ({"type": "MultiPolygon", "coordinates": []}, "the polygon is empty"),
        ({"type": "Polygon", "coordinates": ["x"]}, "coordinates[0]"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, "coordinates[0]"),
        ({"type": "Polygon", "coordinates": [[["a", 0]] * 4]}, "coordinates[0][0]"),
        ({"type": "Polygon", "coordinates": [[[True, 0]] * 4]}, "coordinates[0][0]"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1e300, 0], [1, 1], [0, 0]]]}, "longitude"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [10**400, 0], [1, 1], [0, 0]]]}, "finite"),
        ({"type": "Polygon", "coordinates": BOW_TIE}, "invalid: Self-intersection"),
        ({"type": "MultiPolygon", "coordinates": "x"}, "coordinates must be an array"),
        ({"type": "MultiPolygon", "coordinates": [SQUARE, "x"]}, "coordinates[1]"),
        ({"type": ["Polygon"], "coordinates": SQUARE}, "type must be"),
        ({"type": "Feature", "geometry": None}, "GeoJSON Polygon"),
        ([SQUARE], "GeoJSON Polygon"),
        ("POLYGON((0 0, 1 0, 1 1, 0 0))", "GeoJSON Polygon"),
    ],
)
def test_a_bad_geometry_is_a_400_saying_what_is_wrong(dataset, geometry, says):
    response = post_area({"dataset": "open", "geometry": geometry})
    assert_names(response, "geometry")
    assert says in response.json()["geometry"]


def test_json_numbers_beyond_a_float_are_refused_as_coordinates(dataset):
    ring = "[[0, 0], [1e400, 0], [1, 1], [0, 0]]"
    raw = f'{{"dataset": "open", "geometry": {{"type": "Polygon", "coordinates": [{ring}]}}}}'
    response = post_area(None, raw=raw)
    assert_names(response, "geometry")
    assert "finite" in response.json()["geometry"]


@pytest.mark.parametrize("depth", [40, 100_000])
def test_json_nested_too_deep_is_a_400_parse_error(dataset, depth):
    response = post_area(None, raw="[" * depth + "]" * depth)
    assert response.status_code == 400
    assert "nested more than" in response.json()["detail"]


def test_a_deep_geometry_is_refused_naming_where(dataset):
    deep: object = [0, 0]
    for _ in range(40):
        deep = [deep]
    response = post_area({"dataset": "open", "geometry": {"type": "Polygon", "coordinates": deep}})
    assert_names(response, "geometry.coordinates")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": "a\x00b", "geometry": {"type": "Polygon", "coordinates": SQUARE}}, "dataset"),
        ({"dataset": "open", "geometry": {"type": "Poly\x00gon"}}, "geometry.type"),
        ({"dataset": "open", "geo\x00metry": 1}, "geo\\\\0metry"),
        ({"dataset": ["open"], "geometry": {"type": "Polygon", "coordinates": SQUARE}}, "dataset"),
        ({"dataset": 10**30, "geometry": {"type": "Polygon", "coordinates": SQUARE}}, "dataset"),
        ({"geometry": {"type": "Polygon", "coordinates": SQUARE}}, "dataset"),
        ([], "body must be a JSON object"),
        ("open", "body must be a JSON object"),
    ],
)
def test_a_bad_area_body_is_a_400_naming_the_field(dataset, body, field):
    assert_names(post_area(body), field)


def test_a_form_encoded_area_with_a_nul_is_a_400_naming_the_dataset(dataset):
    response = Client().post(reverse("api-area-mean"), {"dataset": "a\x00b", "geometry": "x"})
    assert_names(response, "dataset")


def test_a_body_that_is_not_json_or_not_utf8_is_a_400(dataset):
    for raw in ("{", "NaN", '{"dataset": Infinity}'):
        assert post_area(None, raw=raw).status_code == 400
    response = Client().post(reverse("api-area-mean"), b"\xff\xfe", content_type="application/json")
    assert response.status_code == 400


def test_a_good_area_still_works_after_the_checks(dataset):
    body = {"dataset": "open", "geometry": {"type": "Polygon", "coordinates": SQUARE}}
    response = post_area(body)
    assert response.status_code == 200
    assert response.json()["count"] == 2
    feature = {"type": "Feature", "geometry": body["geometry"], "properties": {}}
    assert post_area({"dataset": "open", "geometry": feature}).json()["count"] == 2


# --- downloads ----------------------------------------------------------------------------


@pytest.fixture
def downloader(dataset, registered):
    dataset.download_policy = DownloadPolicy.VIEWERS
    dataset.save(update_fields=["download_policy"])
    client = Client()
    client.force_login(registered)
    return client


@pytest.mark.parametrize(
    ("polygon", "says"),
    [
        ("POLYGON EMPTY", "the polygon is empty"),
        ("MULTIPOLYGON EMPTY", "the polygon is empty"),
        ("POLYGON((0 0, 1e300 0, 1 1, 0 0))", "longitude -180..180"),
        (
            "POLYGON((-1.06 43.69, -1.03 43.71, -1.03 43.69, -1.06 43.71, -1.06 43.69))",
            "self-intersection",
        ),
        ("POLYGON((0 0, 1 0, 1 1))", "not valid wkt"),
        ('{"type": "Polygon", "coordinates": "x"}', "not valid wkt"),
        ("SRID=3857;POLYGON((0 0, 1 0, 1 1, 0 0))", "not valid wkt"),
        ("POINT(0 0)", "polygon or multipolygon"),
        ("POLYGON((" + "0 0, " * 30_000 + "0 0))", "too long"),
    ],
)
def test_a_bad_download_polygon_is_a_400_saying_why(downloader, polygon, says):
    response = downloader.get(
        reverse("downloads:api-download", args=["open"]), {"output": "csv", "polygon": polygon}
    )
    assert_names(response, "olygon")
    assert says in response.json()["detail"].lower()


@pytest.mark.parametrize("bbox", ["1e400,0,1,1", "nan,0,1,1", ",,,", "1,2,3,4,5" * 1000])
def test_a_bad_download_bbox_is_a_400_naming_the_bbox(downloader, bbox):
    response = downloader.get(reverse("downloads:api-download", args=["open"]), {"bbox": bbox})
    assert_names(response, "bbox")


def test_a_nul_in_a_download_parameter_is_a_400_naming_it(downloader):
    url = reverse("downloads:api-download", args=["open"])
    assert_names(downloader.get(url, {"polygon": "POLYGON\x00"}), "polygon")
    assert_names(downloader.get(url, {"bbox": BBOX, "output": "c\x00sv"}), "output")


def test_a_nul_in_a_form_field_is_a_400_naming_it(downloader, registered):
    form = {"dataset": "open", "format": "csv", "polygon": "a\x00b"}
    assert_names(downloader.post(reverse("downloads:dialog"), form), "polygon")
    response = downloader.post(
        reverse("token-create"), "name=a%00b", content_type="application/x-www-form-urlencoded"
    )
    assert_names(response, "name")
    assert not registered.api_tokens.exists()
    response = Client().post(reverse("login"), {"username": "a\x00b", "password": "x"})
    assert_names(response, "username")


def test_a_good_download_still_streams_after_the_checks(downloader, registered):
    _, token = create_token(registered, "script")
    response = Client().get(
        reverse("downloads:api-download", args=["open"]),
        {"bbox": BBOX},
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().strip().split("\n")
    assert len(lines) == 1 + len(LON)
