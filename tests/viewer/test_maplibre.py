"""A client nobody here wrote adds the layer from one URL: MapLibre GL JS (vendored from npm) in
Chromium loads /tiles/<slug>/style.json, follows it to the TileJSON and the tiles, and draws
the dataset's points and cells in the viewer's colours, as QGIS would from the same style.

The page is test-only HTML served at the live server's origin (Playwright's route), so the
style, TileJSON and tiles are same-origin requests as for a page of the service. With
GROUNDMOTION_SCREENSHOTS=docs the point-zoom view is written to docs/standards/maplibre.png
(var/screenshots otherwise)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from playwright.sync_api import Page

from accounts.tokens import create_token
from groundmotion.models import Dataset, Visibility
from groundmotion.tile_metadata import DEFAULT_RANGE_MM_YR
from tests.factories import make_dataset
from tests.viewer.browser import wait_for_idle_database

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / os.environ.get("GROUNDMOTION_SCREENSHOTS", "var/screenshots")
MAPLIBRE_VERSION = json.loads((ROOT / "package.json").read_text())["devDependencies"]["maplibre-gl"]
VENDORED = f"/static/vendor/maplibre-gl-{MAPLIBRE_VERSION}"
POINT_ZOOM = settings.GROUNDMOTION["POINT_ZOOM"]
# A 24 x 24 grid 60 m apart near Dax over a subsidence bowl and a gentle east-west tilt: every
# colour of the scale, -10 mm/yr at the bottom of the bowl.
SIDE = np.arange(24)
LON = np.repeat(-1.060 + SIDE * 0.00075, 24)
LAT = np.tile(43.700 + SIDE * 0.00054, 24)
EAST, NORTH = (LON - LON.mean()) / 0.009, (LAT - LAT.mean()) / 0.0065
VELOCITY = np.round(-13.0 * np.exp(-(EAST**2 + NORTH**2) / 0.15) + 4.0 * EAST + 2.0, 1)
CENTRE = [float(LON.mean()), float(LAT.mean())]
PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="{VENDORED}/maplibre-gl.css">
<script src="{VENDORED}/maplibre-gl.js"></script>
<script src="/static/js/legend.js"></script>
<style>html, body, #map {{ margin: 0; width: 100%; height: 100%; }}</style>
</head><body><div id="map"></div></body></html>"""
# Opens the style at a centre and zoom (a token, if given, on every request of the layer) and
# resolves once the map is idle: style, TileJSON and every tile in view loaded and drawn.
OPEN_MAP = """async ([style, centre, zoom, token]) => {
    window.errors = [];
    const map = new maplibregl.Map({
        container: "map", style, center: centre, zoom, fadeDuration: 0,
        transformRequest: (url) =>
            token ? {url, headers: {Authorization: "Token " + token}} : {url},
    });
    window.map = map;
    map.on("error", (event) =>
        window.errors.push(event.error && (event.error.status || event.error.message)));
    await new Promise((resolve) => map.once("idle", resolve));
    return {zoom: map.getZoom(), layers: map.getStyle().layers.map((layer) => layer.id)};
}"""
# What the map drew for one style layer: each feature's id, properties and evaluated colour.
RENDERED = """(layer) => map.queryRenderedFeatures({layers: [layer]}).map((feature) => ({
    id: feature.id, properties: feature.properties,
    colour: feature.layer.paint["circle-color"],
}))"""

# For the screenshot: the viewer's legend bar (legend.js) under the style's legend words.
LEGEND = """() => {
    const box = document.createElement("div");
    box.style.cssText = "position:absolute;left:12px;top:12px;padding:8px 10px;"
        + "background:rgba(255,255,255,0.92);font:13px sans-serif;width:230px;border-radius:4px";
    const bar = document.createElement("div");
    const colours = GroundMotion.colourScale.barColours(false).join(",");
    bar.style.cssText = "height:12px;margin:6px 0 2px;background:linear-gradient(to right,"
        + colours + ")";
    const words = document.createElement("div");
    words.textContent = map.getStyle().metadata["groundmotion:legend"];
    const title = document.createElement("b");
    title.textContent = "MapLibre GL JS " + maplibregl.getVersion();
    const address = document.createElement("div");
    address.textContent = "style: /tiles/dax-bowl/style.json";
    box.append(title, address, bar, words);
    document.body.append(box);
}"""
ATTRIBUTION = "Synthetic bowl near Dax (test data)"

pytestmark = [pytest.mark.browser]


@pytest.fixture
def bowl(transactional_db, partners) -> dict[str, Dataset]:
    public = make_dataset("dax-bowl", lon=LON, lat=LAT, velocity=VELOCITY)
    Dataset.objects.filter(pk=public.pk).update(attribution=ATTRIBUTION)
    restricted = make_dataset(
        "dax-secret",
        visibility=Visibility.RESTRICTED,
        groups=[partners],
        lon=LON,
        lat=LAT,
        velocity=VELOCITY,
    )
    return {"public": public, "restricted": restricted}


@pytest.fixture
def page(browser, live_server, transactional_db):
    # Closed before the database is flushed: a flush racing a tile request deadlocks.
    context = browser.new_context(viewport={"width": 1024, "height": 640})
    page = context.new_page()
    test_page = f"{live_server.url}/maplibre-test/"
    page.route(test_page, lambda route: route.fulfill(body=PAGE, content_type="text/html"))
    page.goto(test_page)
    page.wait_for_function("() => window.maplibregl && window.GroundMotion")
    yield page
    page.goto("about:blank")
    context.close()
    wait_for_idle_database()


def open_style(page: Page, url: str, zoom: float, token: str | None = None) -> dict:
    return page.evaluate(OPEN_MAP, [url, CENTRE, zoom, token])


def rendered(page: Page, layer: str) -> list[dict]:
    return page.evaluate(RENDERED, layer)


def assert_viewer_colours(page: Page, features: list[dict]) -> None:
    """Each feature's colour is legend.js colourFor of its velocity at the default range, as
    the viewer colours it (to a unit of 255: MapLibre interpolates in floats, legend.js rounds)."""
    velocities = [feature["properties"]["velocity"] for feature in features]
    expected = page.evaluate(
        "([vs, range]) => vs.map((v) => GroundMotion.colourScale.colourFor(v, range, false))",
        [velocities, DEFAULT_RANGE_MM_YR],
    )
    for feature, css in zip(features, expected, strict=True):
        wanted = [int(part) for part in css[4:-1].split(",")]
        drawn = [feature["colour"][k] * 255 for k in ("r", "g", "b")]  # opaque: not premultiplied
        assert feature["colour"]["a"] == 1
        assert np.abs(np.subtract(drawn, wanted)).max() <= 1, (feature["properties"], css)


def test_the_vendored_maplibre_is_the_pinned_one() -> None:
    folder = ROOT / "static" / "vendor" / f"maplibre-gl-{MAPLIBRE_VERSION}"
    assert {p.name for p in folder.iterdir()} == {"LICENCE", "maplibre-gl.js", "maplibre-gl.css"}
    assert f"/v{MAPLIBRE_VERSION}/LICENSE.txt" in (folder / "maplibre-gl.js").read_text()[:300]
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/maplibre-gl"]["version"] == MAPLIBRE_VERSION
    # npm's own files (`npm run vendor-maplibre`), less the source-map comment, where npm ci ran.
    npm = ROOT / "node_modules" / "maplibre-gl"
    if npm.is_dir():
        script = (npm / "dist" / "maplibre-gl.js").read_text()
        unmapped = script.replace("//# sourceMappingURL=maplibre-gl.js.map", "")
        assert (folder / "maplibre-gl.js").read_text() == unmapped
        assert (folder / "maplibre-gl.css").read_bytes() == (
            npm / "dist/maplibre-gl.css"
        ).read_bytes()
        assert (folder / "LICENCE").read_bytes() == (npm / "LICENSE.txt").read_bytes()


def test_maplibre_draws_every_point_with_its_velocity(page, live_server, bowl) -> None:
    opened = open_style(page, f"{live_server.url}/tiles/dax-bowl/style.json", POINT_ZOOM + 1.2)
    assert opened["layers"] == ["background", "dax-bowl-cells", "dax-bowl-points"]
    features = rendered(page, "dax-bowl-points")
    stored = dict(bowl["public"].points.values_list("id", "velocity"))
    drawn = {feature["id"]: feature["properties"]["velocity"] for feature in features}
    assert drawn.keys() == stored.keys()  # every point of the dataset, each once by id
    for point, velocity in drawn.items():
        assert velocity == pytest.approx(round(stored[point], 1), abs=1e-4)
    assert_viewer_colours(page, features)
    assert len({feature["properties"]["velocity"] for feature in features}) > 100
    assert page.evaluate("() => window.errors") == []
    # The TileJSON's attribution reached MapLibre's control.
    assert ATTRIBUTION in page.locator(".maplibregl-ctrl-attrib").inner_text()
    page.evaluate(LEGEND)
    SHOTS.joinpath("standards").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "standards" / "maplibre.png"))


def test_below_the_point_zoom_maplibre_draws_the_cells(page, live_server, bowl) -> None:
    # Zoom 9: the whole bowl inside one tile (and its cells clear of the tile's edges), so
    # no cell is drawn twice from a neighbour's buffer.
    open_style(page, f"{live_server.url}/tiles/dax-bowl/style.json", 9)
    assert rendered(page, "dax-bowl-points") == []
    cells = rendered(page, "dax-bowl-cells")
    assert cells and sum(cell["properties"]["count"] for cell in cells) == len(LON)
    weighted = sum(cell["properties"]["count"] * cell["properties"]["velocity"] for cell in cells)
    assert weighted / len(LON) == pytest.approx(VELOCITY.mean(), abs=0.05)
    assert_viewer_colours(page, cells)


def test_a_restricted_style_needs_the_groups_token(page, live_server, bowl, member) -> None:
    url = f"{live_server.url}/tiles/dax-secret/style.json"
    status = page.evaluate("(url) => fetch(url).then((response) => response.status)", url)
    assert status == 404
    token = create_token(member, "maplibre")[1]
    open_style(page, url, POINT_ZOOM + 1.2, token)
    drawn = {feature["id"] for feature in rendered(page, "dax-secret-points")}
    assert drawn == set(bowl["restricted"].points.values_list("id", flat=True))
