"""The viewer's tile decoder (static/js/point-tiles.js, run in node) reads our PostGIS tiles
as mapbox-vector-tile does: same features, ids, properties and positions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from django.test import Client

from tests.factories import make_dataset
from tests.mvt import get_tile, tile_of

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
DECODE = """
globalThis.Pbf = require(process.argv[1].replace("js/point-tiles.js", "vendor/pbf-3.3.0/pbf.js"));
const { decodeTile } = require(process.argv[1]);
const bytes = require("fs").readFileSync(process.argv[2]);
process.stdout.write(JSON.stringify(decodeTile(new Uint8Array(bytes), 4096)));
"""


def decode_in_node(path: Path) -> list[dict]:
    script = str(ROOT / "static" / "js" / "point-tiles.js")
    result = subprocess.run(
        ["node", "-e", DECODE, script, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("zoom", [9, 15])  # cells below the point zoom (13), points above it
def test_node_decodes_what_mapbox_vector_tile_decodes(zoom: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    lon, lat = -1.05 + rng.uniform(0, 0.01, 300), 43.70 + rng.uniform(0, 0.008, 300)
    make_dataset("decoded", lon=lon, lat=lat, velocity=rng.normal(0, 4, 300))
    client = Client()
    status, layers, response = get_tile(client, "decoded", *tile_of(-1.045, 43.704, zoom))
    assert status == 200
    path = tmp_path / "tile.pbf"
    path.write_bytes(response.content)
    ours = decode_in_node(path)
    theirs = [
        {"layer": name, "id": feature.get("id"), **feature}
        for name, features in layers.items()
        for feature in features
    ]
    assert len(ours) == len(theirs) > 0
    assert {item["layer"] for item in ours} == {"cells" if zoom < 13 else "points"}
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine["layer"] == reference["layer"]
        if mine["layer"] == "points":
            assert mine["id"] == reference["id"]
        assert mine["properties"].keys() == reference["properties"].keys()
        for key, value in reference["properties"].items():
            assert mine["properties"][key] == pytest.approx(value, rel=1e-6)
        # mapbox-vector-tile flips y to a bottom-left origin unless asked not to.
        x, y = reference["geometry"]["coordinates"]
        assert (mine["x"], 4096 - mine["y"]) == (x, y)
