"""The admin's map widgets: the shared base map, the datasets' extents and tiles, curators only."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.exceptions import ImproperlyConfigured

from groundmotion.apps import validate_settings
from groundmotion.models import MaskedArea, Status
from tests.factories import client_for, make_dataset, make_user
from tests.mvt import get_tile, tile_of

CHANGE = "/admin/groundmotion/dataset/{}/change/"


def admin_map(html: str) -> dict:
    found = re.search(r'<script id="gm-admin-map" type="application/json">(.*?)</script>', html)
    assert found, "no gm-admin-map on the page"
    return json.loads(found.group(1))


def test_the_dataset_page_hands_its_extent_and_tiles_to_the_map(curator) -> None:
    dataset = make_dataset("map-track", lon=[-1.06, -1.04], lat=[43.70, 43.72])
    html = client_for(curator).get(CHANGE.format(dataset.pk)).content.decode()
    config = admin_map(html)
    assert [d["slug"] for d in config["datasets"]] == ["map-track"]
    west, south, east, north = config["datasets"][0]["extent"]
    assert west <= -1.06 and east >= -1.04 and south <= 43.70 and north >= 43.72
    assert config["basemap"]["fineLandUrl"].endswith("/cells/")
    assert config["tileUrl"] == "/tiles/{slug}/{z}/{x}/{y}.pbf"
    # Both geometry fields are drawn by admin-map.js on top of basemap.js.
    assert html.count("GroundMotion.adminMap.setUp(map") == 2
    assert "js/basemap.js" in html and "js/admin-map.js" in html


def test_the_extent_is_shown_but_not_editable(curator) -> None:
    dataset = make_dataset("fixed-extent", lon=[0.1, 0.2], lat=[0.1, 0.2])
    html = client_for(curator).get(CHANGE.format(dataset.pk)).content.decode()
    extent_script = html[html.index("id_extent") :]
    assert re.search(r"\.modifiable = false", extent_script)
    reference_script = html[html.index("id_reference_area") :]
    assert re.search(r"\.modifiable = true", reference_script)


def test_a_mask_on_every_dataset_shows_every_dataset(db) -> None:
    curator = make_user("mask-curator", curator=True, perms=["change_maskedarea"])
    make_dataset("mask-a")
    make_dataset("mask-b")
    area = MaskedArea.objects.create(
        name="quarry",
        reason="test",
        geom=MultiPolygon(Polygon.from_bbox((0.1, 0.1, 0.2, 0.2))),
    )
    html = client_for(curator).get(f"/admin/groundmotion/maskedarea/{area.pk}/change/")
    slugs = [d["slug"] for d in admin_map(html.content.decode())["datasets"]]
    assert slugs == ["mask-a", "mask-b"]
    area.datasets.set([make_dataset("mask-c")])
    html = client_for(curator).get(f"/admin/groundmotion/maskedarea/{area.pk}/change/")
    assert [d["slug"] for d in admin_map(html.content.decode())["datasets"]] == ["mask-c"]


@pytest.mark.parametrize("who", ["anonymous", "registered"])
def test_the_admin_maps_are_for_curators_only(who, registered, curator) -> None:
    dataset = make_dataset("curated", status=Status.DRAFT, lon=[0.15], lat=[0.15])
    user = {"anonymous": None, "registered": registered}[who]
    response = client_for(user).get(CHANGE.format(dataset.pk))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    # The tiles the curator's map asks for follow the tile rules: a draft is not public.
    address = tile_of(0.15, 0.15, 14)
    assert get_tile(client_for(user), dataset.slug, *address)[0] == 404
    assert get_tile(client_for(curator), dataset.slug, *address)[0] == 200


def test_a_geocoder_url_needs_a_scheme_and_q(settings) -> None:
    config = dict(settings.GROUNDMOTION)
    validate_settings({**config, "GEOCODER_URL": "https://nominatim.example/search?q={q}"})
    for bad in ["nominatim.example/search?q={q}", "https://nominatim.example/search", 3]:
        with pytest.raises(ImproperlyConfigured, match="GEOCODER_URL"):
            validate_settings({**config, "GEOCODER_URL": bad})
