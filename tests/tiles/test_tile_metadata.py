"""Tile metadata: the TileJSON 3.0.0 at /tiles/<slug>.json (and its old address) and the
MapLibre style at /tiles/<slug>/style.json: what they hold against the specs and the tiles
themselves, the viewer's colour scale, and the tiles' access rules. MapLibre itself loads them
in tests/viewer/test_maplibre.py; the style is also checked by MapLibre's own validator."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import mapbox_vector_tile
import pytest
from django.conf import settings
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.test import Client
from django.urls import Resolver404, resolve

from accounts.tokens import create_token
from groundmotion import cells, tile_metadata, tiles
from groundmotion.models import Component, Dataset, Level, MaskedArea, Status, Visibility
from tests.factories import client_for, make_user
from tests.mvt import tile_of
from tests.tiles.grid import CENTRE, LAT, LON, grid_dataset

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
POINT_ZOOM = settings.GROUNDMOTION["POINT_ZOOM"]
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def tilejson_of(client: Client, slug: str, **headers) -> dict:
    response = client.get(f"/tiles/{slug}.json", **headers)
    assert response.status_code == 200, response.content
    return response.json()


def style_of(client: Client, slug: str, query: str = "", **headers) -> dict:
    response = client.get(f"/tiles/{slug}/style.json{query}", **headers)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_metadata_addresses_resolve_beside_the_tiles() -> None:
    assert resolve("/tiles/grid.json").url_name == "tilejson"
    assert resolve("/tiles/grid/tilejson.json").func is resolve("/tiles/grid.json").func
    assert resolve("/tiles/grid/style.json").url_name == "tile-style"
    assert resolve("/tiles/grid/13/4047/2945.pbf").url_name == "tile"
    assert resolve("/tiles/grid.json").kwargs == {"slug": "grid"}
    with pytest.raises(Resolver404):  # no dot in a slug
        resolve("/tiles/grid.pbf.json")


def test_the_tilejson_follows_the_spec_and_the_data() -> None:
    dataset = grid_dataset()
    Dataset.objects.filter(pk=dataset.pk).update(
        description="A grid near Dax", attribution="Contains modified Copernicus data"
    )
    body = tilejson_of(Client(), "grid")
    assert body["tilejson"] == "3.0.0" and body["name"] == "Grid" and body["scheme"] == "xyz"
    assert body["description"] == "A grid near Dax"
    assert body["attribution"] == "Contains modified Copernicus data"
    assert body["tiles"] == ["http://testserver/tiles/grid/{z}/{x}/{y}.pbf"]  # absolute
    assert SEMVER.match(body["version"])
    assert 0 <= body["minzoom"] <= body["maxzoom"] <= 30
    assert body["maxzoom"] == tiles.MAX_ZOOM
    west, south, east, north = body["bounds"]
    assert west == pytest.approx(LON.min()) and east == pytest.approx(LON.max())
    assert south == pytest.approx(LAT.min()) and north == pytest.approx(LAT.max())
    lon, lat, zoom = body["center"]
    assert west <= lon <= east and south <= lat <= north
    assert isinstance(zoom, int) and body["minzoom"] <= zoom <= body["maxzoom"]
    assert "LOS ascending velocity" in body["legend"] and "red is away" in body["legend"]


def test_its_vector_layers_name_every_property_the_tiles_carry() -> None:
    grid_dataset()
    body = tilejson_of(Client(), "grid")
    layers = {layer["id"]: layer for layer in body["vector_layers"]}
    assert set(layers) == {"cells", "points"}
    for layer in layers.values():
        assert isinstance(layer["description"], str) and layer["description"]
        assert set(layer["fields"].values()) == {"Number"}  # tippecanoe's types, read by GDAL
        assert layer["field_descriptions"].keys() == layer["fields"].keys()
        assert body["minzoom"] <= layer["minzoom"] <= layer["maxzoom"] <= body["maxzoom"]
    assert layers["cells"]["maxzoom"] == POINT_ZOOM - 1
    assert layers["points"]["minzoom"] == POINT_ZOOM
    velocity = layers["points"]["field_descriptions"]["velocity"]
    assert "LOS ascending velocity" in velocity and "towards the satellite" in velocity
    plain = {"points": POINT_ZOOM, "cells": POINT_ZOOM - 1}
    analysed = "?start=2022-02-01&from=2022-01-01&to=2022-03-01"
    for name, zoom in plain.items():
        for query in ("", analysed):
            path = "/tiles/grid/{}/{}/{}.pbf".format(*tile_of(*CENTRE, zoom)) + query
            response = Client().get(path, HTTP_ACCEPT_ENCODING="identity")
            assert response.status_code == 200
            features = decoded(response.content)[name]
            assert features
            carried = set().union(*(feature["properties"] for feature in features))
            assert carried <= set(layers[name]["fields"]), (name, query)
            if query:
                assert {"displacement", "change"} <= carried


def decoded(content: bytes) -> dict[str, list]:
    return {name: layer["features"] for name, layer in mapbox_vector_tile.decode(content).items()}


def test_the_old_address_gives_the_same_tilejson() -> None:
    grid_dataset()
    client = Client()
    old = client.get("/tiles/grid/tilejson.json")
    assert old.status_code == 200 and old.json() == tilejson_of(client, "grid")


def test_a_new_dataset_version_is_a_new_minor_tiles_version() -> None:
    dataset = grid_dataset()
    before = tilejson_of(Client(), "grid")["version"]
    dataset.bump_version()
    after = tilejson_of(Client(), "grid")["version"]
    assert before.split(".")[0] == after.split(".")[0]
    assert int(after.split(".")[1]) > int(before.split(".")[1])


def test_words_follow_the_quantity_of_an_l3_dataset() -> None:
    dataset = grid_dataset(level=Level.L3)
    Dataset.objects.filter(pk=dataset.pk).update(component=Component.UP_DOWN)
    body = tilejson_of(Client(), "grid")
    points = next(layer for layer in body["vector_layers"] if layer["id"] == "points")
    velocity = points["field_descriptions"]["velocity"]
    assert "Vertical velocity" in velocity and "+ up" in velocity
    style = style_of(Client(), "grid")
    assert "red is down, blue up" in style["metadata"]["groundmotion:legend"]


def test_a_reduced_dataset_tells_anonymous_users_of_cells_only(registered) -> None:
    grid_dataset(visibility=Visibility.REDUCED)
    anonymous = tilejson_of(Client(), "grid")
    assert [layer["id"] for layer in anonymous["vector_layers"]] == ["cells"]
    assert anonymous["vector_layers"][0]["maxzoom"] == tiles.MAX_ZOOM
    # The extent widened to whole reduced cells, never the points' own.
    west, south, east, north = anonymous["bounds"]
    assert west < LON.min() and east > LON.max() and south < LAT.min() and north > LAT.max()
    layers = [layer["id"] for layer in style_of(Client(), "grid")["layers"]]
    assert layers == ["background", "grid-cells"]
    signed_in = tilejson_of(client_for(registered), "grid")
    assert {layer["id"] for layer in signed_in["vector_layers"]} == {"cells", "points"}
    assert "grid-points" in {
        layer["id"] for layer in style_of(client_for(registered), "grid")["layers"]
    }


def test_the_style_draws_both_layers_from_the_tilejson_with_the_viewer_scale() -> None:
    grid_dataset()
    client = Client()
    style = style_of(client, "grid")
    assert style["version"] == 8 and style["name"] == "Grid"
    assert "glyphs" not in style and "sprite" not in style  # no symbol layers: nothing to fetch
    assert style["sources"] == {
        "grid": {"type": "vector", "url": "http://testserver/tiles/grid.json"}
    }
    layers = {layer["id"]: layer for layer in style["layers"]}
    assert list(layers) == ["background", "grid-cells", "grid-points"]
    assert layers["background"]["type"] == "background"
    for name in ("cells", "points"):
        layer = layers[f"grid-{name}"]
        assert layer["type"] == "circle" and layer["source"] == "grid"
        assert layer["source-layer"] == name
        assert layer["paint"]["circle-color"] == expected_colour(10)
    lon, lat = style["center"]
    assert LON.min() <= lon <= LON.max() and LAT.min() <= lat <= LAT.max()
    # What the source points at is this dataset's TileJSON.
    assert client.get("/tiles/grid.json").json()["tiles"][0].startswith("http://testserver/")


def expected_colour(range_mm_yr: float) -> list:
    """The case/interpolate expression of legend.js colourFor, written out by hand."""
    return [
        "case",
        ["==", ["typeof", ["get", "velocity"]], "number"],
        [
            "interpolate",
            ["linear"],
            ["get", "velocity"],
            -range_mm_yr,
            "rgb(165,0,38)",
            -range_mm_yr / 2,
            "rgb(244,109,67)",
            0,
            "rgb(255,255,191)",
            range_mm_yr / 2,
            "rgb(116,173,209)",
            range_mm_yr,
            "rgb(49,54,149)",
        ],
        "#888",
    ]


def test_the_range_of_the_style_is_chosen_by_a_parameter() -> None:
    grid_dataset()
    style = style_of(Client(), "grid", "?range=2.5")
    assert style["layers"][1]["paint"]["circle-color"] == expected_colour(2.5)
    assert "-2.5 to +2.5" in style["metadata"]["groundmotion:legend"]
    for bad in ("0", "-3", "abc", "101", "nan"):
        response = Client().get(f"/tiles/grid/style.json?range={bad}")
        assert response.status_code == 400 and "range" in response.json(), bad


def test_the_scale_is_the_viewers_own() -> None:
    """STOPS, the no-value grey and the default range equal static/js/legend.js's."""
    legend = ROOT / "static" / "js" / "legend.js"
    script = (
        "const s = require(process.argv[1]);"
        "process.stdout.write(JSON.stringify({stops: s.STOPS, none: s.NO_VALUE}))"
    )
    found = subprocess.run(
        ["node", "-e", script, str(legend)], capture_output=True, text=True, check=True
    )
    scale = json.loads(found.stdout)
    assert scale["stops"] == [[p, list(rgb)] for p, rgb in tile_metadata.STOPS]
    assert scale["none"] == tile_metadata.NO_VALUE
    default = re.search(r"this\.range = ([\d.]+);", legend.read_text())
    assert float(default.group(1)) == tile_metadata.DEFAULT_RANGE_MM_YR


def test_maplibres_own_validator_accepts_the_style() -> None:
    spec = ROOT / "node_modules" / "@maplibre" / "maplibre-gl-style-spec"
    if not spec.is_dir():
        pytest.skip("node_modules missing: `make node_modules/.installed` installs the validator")
    grid_dataset()
    validate = (
        "const spec = require(process.argv[1]);"
        "const errors = spec.validateStyleMin(JSON.parse(require('fs').readFileSync(0, 'utf8')));"
        "process.stdout.write(JSON.stringify(errors.map((e) => e.message)))"
    )
    for query in ("", "?range=3"):
        style = Client().get(f"/tiles/grid/style.json{query}").content
        found = subprocess.run(
            ["node", "-e", validate, str(spec)], input=style, capture_output=True, check=True
        )
        assert json.loads(found.stdout) == []
    broken = json.dumps({"version": 8, "sources": {}, "layers": [{"id": "x", "type": "circle"}]})
    found = subprocess.run(
        ["node", "-e", validate, str(spec)], input=broken.encode(), capture_output=True, check=True
    )
    assert json.loads(found.stdout)  # the validator does find errors


def test_restricted_metadata_is_for_the_group_and_its_tokens(partners, member, outsider) -> None:
    grid_dataset(visibility=Visibility.RESTRICTED, groups=[partners])
    token = create_token(member, "maplibre")[1]
    for path in ("/tiles/grid.json", "/tiles/grid/tilejson.json", "/tiles/grid/style.json"):
        assert Client().get(path).status_code == 404, path
        assert client_for(outsider).get(path).status_code == 404, path
        for client, headers in ((client_for(member), {}), (Client(), with_token(token))):
            response = client.get(path, **headers)
            assert response.status_code == 200, path
            assert response["Cache-Control"].startswith("private")
            assert "Authorization" in response["Vary"] and "Cookie" in response["Vary"]
        bad = Client().get(path, **with_token("gms_x_y"))
        assert bad.status_code == 401 and bad["WWW-Authenticate"] == "Token"
    missing = Client().get("/tiles/no-such/style.json")
    assert missing.status_code == 404


def with_token(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


def test_only_what_everybody_gets_may_sit_in_shared_caches(curator, registered) -> None:
    dataset = grid_dataset()
    grid_dataset("draft-grid", status=Status.DRAFT)
    for path in ("/tiles/grid.json", "/tiles/grid/style.json"):
        response = Client().get(path)
        assert response["Cache-Control"].startswith("public"), path
        assert client_for(registered).get(path)["Cache-Control"].startswith("public"), path
    for path in ("/tiles/draft-grid.json", "/tiles/draft-grid/style.json"):
        assert Client().get(path).status_code == 404
        response = client_for(curator).get(path)
        assert response.status_code == 200 and response["Cache-Control"].startswith("private")
    # Who sees masked points gets an answer about a masked public dataset that is theirs only.
    square = Polygon.from_bbox((-1.07, 43.69, -1.05, 43.72))
    square.srid = 4326
    area = MaskedArea.objects.create(name="Depot", geom=MultiPolygon(square), reason="Defence")
    area.datasets.add(dataset)
    cells.refresh_masked_datasets(area)
    allowed = make_user("allowed", perms=["view_masked"])
    assert client_for(allowed).get("/tiles/grid.json")["Cache-Control"].startswith("private")
    masked = tilejson_of(Client(), "grid")
    assert masked["bounds"][0] > LON.min()  # the masked western points left out of the extent
    assert Client().get("/tiles/grid.json")["Cache-Control"].startswith("public")


def test_the_metadata_takes_no_writes() -> None:
    grid_dataset()
    for path in ("/tiles/grid.json", "/tiles/grid/style.json"):
        assert Client().post(path).status_code == 405
        assert Client().head(path).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_gdal_reads_the_tiles_by_the_tilejson(live_server, partners, member) -> None:
    """ogrinfo (GDAL 3.6's MVT driver, an outside client) opens a zoom level of the tiles with
    the TileJSON as its METADATA_FILE: the layers and typed fields it names, every point with
    its velocity; a restricted dataset's only with the group's token. (GDAL 3.6 does not open
    `MVT:http://…/tiles/<slug>.json` itself: it takes the URL for a tile.)"""
    dataset = grid_dataset()
    grid_dataset("secret-grid", visibility=Visibility.RESTRICTED, groups=[partners])
    token = create_token(member, "gdal")[1]
    found = gdal_geojson(live_server.url, "grid")
    assert found.returncode == 0, found.stderr
    features = [f for f in json.loads(found.stdout)["features"] if "velocity" in f["properties"]]
    stored = dict(dataset.points.values_list("id", "velocity"))
    by_id = {f["properties"]["mvt_id"]: f["properties"]["velocity"] for f in features}
    assert by_id.keys() == stored.keys()
    assert all(isinstance(velocity, float) for velocity in by_id.values())  # typed: Real
    assert all(abs(by_id[point] - stored[point]) < 0.051 for point in stored)
    refused = gdal_geojson(live_server.url, "secret-grid")
    assert refused.returncode != 0
    allowed = gdal_geojson(live_server.url, "secret-grid", f"Authorization: Token {token}")
    assert allowed.returncode == 0, allowed.stderr
    assert len(json.loads(allowed.stdout)["features"]) == len(LON)


def gdal_geojson(server: str, slug: str, header: str | None = None):
    """The points layer at zoom 14 as GeoJSON, through ogr2ogr."""
    environment = {**os.environ, "CPL_DEBUG": "OFF", "GDAL_HTTP_TIMEOUT": "20"}
    if header:
        environment["GDAL_HTTP_HEADERS"] = header
    command = ["ogr2ogr", "-f", "GeoJSON", "/vsistdout/", f"MVT:{server}/tiles/{slug}/14"]
    command += ["-oo", f"METADATA_FILE={server}/tiles/{slug}.json", "points"]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
