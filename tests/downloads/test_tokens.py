"""API tokens wherever data is: tiles, TileJSON, point detail, plots, series, area means and
downloads answer a token as they answer its owner's session; a bad token is a 401, never the
anonymous answer. GDAL, an outside client, reads a restricted tile through a live server."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import mapbox_vector_tile
import numpy as np
import pytest
from django.conf import settings
from django.test import Client

from accounts.tokens import create_token
from groundmotion.models import Level, MeasurementPoint, Visibility
from tests.factories import make_dataset
from tests.mvt import tile_of

pytestmark = pytest.mark.django_db
rng = np.random.default_rng(5)
LON = rng.uniform(-1.052, -1.048, 50)
LAT = rng.uniform(43.708, 43.712, 50)
POINT_ZOOM = settings.GROUNDMOTION["POINT_ZOOM"]
AREA = {
    "type": "Polygon",
    "coordinates": [
        [[-1.06, 43.70], [-1.04, 43.70], [-1.04, 43.72], [-1.06, 43.72], [-1.06, 43.70]]
    ],
}


@pytest.fixture
def restricted(partners):
    return make_dataset(
        "secret-track",
        visibility=Visibility.RESTRICTED,
        groups=[partners],
        lon=LON,
        lat=LAT,
        velocity=rng.normal(0, 3, len(LON)),
        level=Level.L2B,
    )


@pytest.fixture
def tokens(member, outsider) -> dict[str, str]:
    return {
        "member": create_token(member, "qgis")[1],
        "outsider": create_token(outsider, "qgis")[1],
    }


def with_token(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


def get_tile(client: Client, slug: str, zoom: int, x: int, y: int, **headers: str):
    """tests/mvt.get_tile with request headers: (status, {layer: features}, response)."""
    response = client.get(f"/tiles/{slug}/{zoom}/{x}/{y}.pbf", **headers)
    layers = {}
    if response.status_code == 200 and response.content:
        decoded = mapbox_vector_tile.decode(response.content)
        layers = {name: layer["features"] for name, layer in decoded.items()}
    return response.status_code, layers, response


def tile_path(slug: str, zoom: int = POINT_ZOOM) -> str:
    return "/tiles/{}/{}/{}/{}.pbf".format(slug, *tile_of(LON.mean(), LAT.mean(), zoom))


def test_a_token_opens_the_restricted_tile_its_owner_may_see(restricted, tokens) -> None:
    client = Client()
    address = tile_of(LON.mean(), LAT.mean(), POINT_ZOOM)
    status, layers, response = get_tile(
        client, restricted.slug, *address, **with_token(tokens["member"])
    )
    assert status == 200 and len(layers["points"]) == len(LON)
    assert response["Cache-Control"].startswith("private")
    assert "Authorization" in response["Vary"]
    # The token's tile is now in both server cache tiers: nobody else gets it for that.
    assert client.get(tile_path(restricted.slug)).status_code == 404
    outsider = client.get(tile_path(restricted.slug), **with_token(tokens["outsider"]))
    missing = client.get(tile_path("no-such-track"), **with_token(tokens["outsider"]))
    assert outsider.status_code == missing.status_code == 404


def test_a_bad_token_is_401_even_beside_a_session(restricted, tokens, member) -> None:
    client = Client()
    for header in (f"Token {tokens['member']}x", "Token", "Token a b", "Token gms_nothing_here"):
        response = client.get(tile_path(restricted.slug), HTTP_AUTHORIZATION=header)
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    client.force_login(member)
    assert client.get(tile_path(restricted.slug)).status_code == 200
    bad = client.get(tile_path(restricted.slug), **with_token(tokens["member"] + "x"))
    assert bad.status_code == 401  # not the session's answer


def test_a_public_tile_fetched_with_a_token_stays_public(tokens) -> None:
    make_dataset("open-track", lon=LON, lat=LAT, velocity=np.zeros(len(LON)))
    response = Client().get(tile_path("open-track"), **with_token(tokens["outsider"]))
    assert response.status_code == 200 and response["Cache-Control"].startswith("public")


def test_tilejson_describes_the_tiles_by_the_same_rules(restricted, tokens) -> None:
    client = Client()
    response = client.get(f"/tiles/{restricted.slug}/tilejson.json", **with_token(tokens["member"]))
    assert response.status_code == 200
    body = response.json()
    assert body["tilejson"] == "3.0.0" and body["name"] == restricted.name
    assert body["tiles"] == [f"http://testserver/tiles/{restricted.slug}/{{z}}/{{x}}/{{y}}.pbf"]
    west, south, east, north = body["bounds"]
    assert west <= LON.min() and east >= LON.max() and south <= LAT.min() and north >= LAT.max()
    assert east - west < 0.01  # the points' extent, not the world
    layers = {layer["id"]: layer for layer in body["vector_layers"]}
    assert set(layers) == {"points", "cells"}
    assert set(layers["points"]["fields"]) == {
        "velocity",
        "coherence",
        "displacement",
        "change",
        "change_sigma",
    }
    assert set(layers["cells"]["fields"]) == {
        "count",
        "velocity",
        "coherence",
        "displacement",
        "change",
    }
    assert layers["points"]["minzoom"] == POINT_ZOOM and body["maxzoom"] >= POINT_ZOOM
    assert response["Cache-Control"].startswith("private")
    # The fields named are the fields the tiles carry.
    _, tile_layers, _ = get_tile(
        client,
        restricted.slug,
        *tile_of(LON.mean(), LAT.mean(), POINT_ZOOM),
        **with_token(tokens["member"]),
    )
    assert set(tile_layers["points"][0]["properties"]) <= set(layers["points"]["fields"]) | {"id"}
    hidden = client.get(f"/tiles/{restricted.slug}/tilejson.json", **with_token(tokens["outsider"]))
    missing = client.get("/tiles/no-such/tilejson.json", **with_token(tokens["outsider"]))
    assert hidden.status_code == missing.status_code == 404
    assert client.get(f"/tiles/{restricted.slug}/tilejson.json").status_code == 404
    bad = client.get(f"/tiles/{restricted.slug}/tilejson.json", **with_token("gms_x_y"))
    assert bad.status_code == 401


def test_the_account_page_says_what_to_type_in_qgis(restricted, member, tokens) -> None:
    client = Client()
    client.force_login(member)
    html = client.get("/accounts/profile/").content.decode()
    section = html.split('id="qgis"', 1)[1].split("</section>", 1)[0]
    url = f"http://testserver/tiles/{restricted.slug}/{{z}}/{{x}}/{{y}}.pbf"
    assert url in section and "Authorization: Token" in section and "HTTP headers" in section
    # What it says to type works: the URL, filled, with the header.
    zoom, x, y = tile_of(LON.mean(), LAT.mean(), POINT_ZOOM)
    path = url.removeprefix("http://testserver").format(z=zoom, x=x, y=y)
    assert Client().get(path, **with_token(tokens["member"])).status_code == 200


def data_requests(restricted) -> dict[str, tuple[str, str, dict]]:
    point = MeasurementPoint.objects.filter(dataset=restricted).order_by("pk").first()
    bbox = "-1.06,43.70,-1.04,43.72"
    return {
        "point": ("get", f"/api/points/{point.pk}/", {}),
        "plot-png": ("get", f"/api/points/{point.pk}/plot.png", {}),
        "plot-svg": ("get", f"/api/points/{point.pk}/plot.svg", {}),
        "series-csv": ("get", f"/api/points/{point.pk}/series.csv", {}),
        "area-mean": ("post", "/api/area-mean/", {"dataset": restricted.slug, "geometry": AREA}),
        "download": ("get", f"/api/downloads/{restricted.slug}/", {"output": "csv", "bbox": bbox}),
        "estimate": ("post", f"/api/downloads/{restricted.slug}/estimate", {"bbox": bbox}),
        "tile": ("get", tile_path(restricted.slug), {}),
        "tilejson": ("get", f"/tiles/{restricted.slug}/tilejson.json", {}),
    }


def ask(client: Client, method: str, path: str, data: dict, **headers: str):
    if method == "post":
        return client.post(path, json.dumps(data), content_type="application/json", **headers)
    return client.get(path, data, **headers)


@pytest.mark.parametrize(
    "name",
    [
        "point",
        "plot-png",
        "plot-svg",
        "series-csv",
        "area-mean",
        "download",
        "estimate",
        "tile",
        "tilejson",
    ],
)
def test_every_data_endpoint_answers_a_token_like_its_owners_session(
    restricted, tokens, member, name
) -> None:
    method, path, data = data_requests(restricted)[name]
    session = Client()
    session.force_login(member)
    by_session = ask(session, method, path, data)
    by_token = ask(Client(), method, path, data, **with_token(tokens["member"]))
    assert by_session.status_code == by_token.status_code == 200
    assert by_token["Content-Type"] == by_session["Content-Type"]
    refused = ask(Client(), method, path, data, **with_token(tokens["outsider"]))
    assert refused.status_code == 404
    bad = ask(Client(), method, path, data, **with_token(tokens["member"] + "x"))
    assert bad.status_code == 401 and "token" in bad.content.decode().lower()


@pytest.mark.django_db(transaction=True)
def test_gdal_reads_a_restricted_tile_with_the_token_and_not_without(
    live_server, restricted, tokens
):
    """ogrinfo (GDAL's MVT driver) against the live server, as QGIS would ask."""
    url = f"{live_server.url}{tile_path(restricted.slug)}"

    def ogrinfo(source: str, header: str | None) -> subprocess.CompletedProcess:
        environment = {**os.environ, "CPL_DEBUG": "OFF", "GDAL_HTTP_TIMEOUT": "20"}
        if header:
            environment["GDAL_HTTP_HEADERS"] = header
        return subprocess.run(
            ["ogrinfo", "-ro", "-al", "-so", source],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

    found = ogrinfo(f"MVT:{url}", f"Authorization: Token {tokens['member']}")
    assert found.returncode == 0, found.stderr
    assert "Layer name: points" in found.stdout
    assert f"Feature Count: {len(LON)}" in found.stdout
    refused = ogrinfo(f"MVT:{url}", None)
    assert refused.returncode != 0 or "Feature Count" not in refused.stdout
    # The TileJSON's tiles URL, as a client would fill it, is what GDAL opens.
    asked = urllib.request.Request(
        f"{live_server.url}/tiles/{restricted.slug}/tilejson.json",
        headers={"Authorization": f"Token {tokens['member']}"},
    )
    with urllib.request.urlopen(asked, timeout=20) as answer:
        template = json.load(answer)["tiles"][0]
    zoom, x, y = tile_of(LON.mean(), LAT.mean(), POINT_ZOOM)
    filled = template.replace("{z}", str(zoom)).replace("{x}", str(x)).replace("{y}", str(y))
    again = ogrinfo(f"MVT:{filled}", f"Authorization: Token {tokens['member']}")
    assert again.returncode == 0 and f"Feature Count: {len(LON)}" in again.stdout
