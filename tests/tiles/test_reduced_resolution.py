"""Reduced resolution on the ground: what anonymous users get of a reduced dataset.

Every cell an anonymous user can decode must be at least GROUNDMOTION['REDUCED_CELL_M'] on the
ground, at every latitude and zoom, and summarise at least REDUCED_MIN_POINTS points. Each
cell's level is read back from its geometry (tiles place it at its centre in tile pixels), not
asked of the server, and its ground size is measured on the WGS84 ellipsoid with pyproj.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import mapbox_vector_tile
import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse
from pyproj import Geod

from groundmotion import cells, tiles
from groundmotion.apps import validate_settings
from groundmotion.models import Dataset, TileCell, Visibility
from tests.factories import client_for, make_dataset
from tests.mvt import get_tile, tile_of
from tests.tiles import grid

LATITUDES = [0.0, 38.7, 43.7, 60.0, 70.0]
LONGITUDE = 10.0
ZOOMS = range(0, 19)
WGS84 = Geod(ellps="WGS84")
METRES_PER_DEGREE = 111_320.0  # of latitude, near enough to lay the synthetic points out
# A block of points 120 m apart, 4 km across: cells at the floor hold tens of points.
BLOCK_SIDE = 34
BLOCK_SPACING_M = 120.0
# Four points a few metres apart, 3 km east of the block: always in a cell of their own.
LONELY_OFFSETS_M = [(0.0, 0.0), (20.0, 0.0), (0.0, 20.0), (20.0, 20.0)]
LONELY_GAP_M = 3_000.0
LONELY_VELOCITY = 40.0


def floor_m() -> int:
    return settings.GROUNDMOTION["REDUCED_CELL_M"]


def min_points() -> int:
    return settings.GROUNDMOTION["REDUCED_MIN_POINTS"]


@dataclass(frozen=True)
class Layout:
    """Synthetic points around a latitude: the block, and the lonely four east of it."""

    latitude: float

    def degrees(self, east_m: np.ndarray, north_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        east_degree = METRES_PER_DEGREE * math.cos(math.radians(self.latitude))
        return LONGITUDE + east_m / east_degree, self.latitude + north_m / METRES_PER_DEGREE

    def block(self) -> tuple[np.ndarray, np.ndarray]:
        steps = (np.arange(BLOCK_SIDE) - (BLOCK_SIDE - 1) / 2) * BLOCK_SPACING_M
        return self.degrees(np.repeat(steps, BLOCK_SIDE), np.tile(steps, BLOCK_SIDE))

    def lonely(self) -> tuple[np.ndarray, np.ndarray]:
        offsets = np.array(LONELY_OFFSETS_M)
        east = BLOCK_SIDE * BLOCK_SPACING_M / 2 + LONELY_GAP_M + offsets[:, 0]
        return self.degrees(east, offsets[:, 1])

    def block_velocities(self) -> np.ndarray:
        return np.random.default_rng(12).normal(0.0, 3.0, BLOCK_SIDE**2)

    def make(self, slug: str, *, lonely: bool, block: bool = True, **options) -> Dataset:
        parts = ([(*self.block(), self.block_velocities())] if block else []) + (
            [(*self.lonely(), np.full(len(LONELY_OFFSETS_M), LONELY_VELOCITY))] if lonely else []
        )
        lon, lat, velocity = (np.concatenate(column) for column in zip(*parts, strict=True))
        return make_dataset(slug, lon=lon, lat=lat, velocity=velocity, **options)

    def addresses(self, zoom: int) -> list[tuple[int, int, int]]:
        """The tiles of the block's corners and centre and of the lonely four, at a zoom."""
        lon, lat = self.block()
        lonely_lon, lonely_lat = self.lonely()
        places = [
            (lon.min(), lat.min()),
            (lon.min(), lat.max()),
            (lon.max(), lat.min()),
            (lon.max(), lat.max()),
            (lon.mean(), lat.mean()),
            (lonely_lon.mean(), lonely_lat.mean()),
        ]
        return sorted({tile_of(place_lon, place_lat, zoom) for place_lon, place_lat in places})


def tile_bytes(client: Client, slug: str, address: tuple[int, int, int]) -> bytes:
    response = client.get("/tiles/{}/{}/{}/{}.pbf".format(slug, *address))
    assert response.status_code == 200
    return response.content


def sorted_features(body: bytes) -> dict[str, list]:
    """decoded, each layer's features in a fixed order, for comparisons."""
    layers = decoded(body)
    return {
        name: sorted(features, key=lambda f: json.dumps(f, sort_keys=True))
        for name, features in layers.items()
    }


def decoded(body: bytes) -> dict[str, list]:
    """Layers as {name: features}, y pointing down as in the tile's own pixels."""
    if not body:
        return {}
    layers = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    return {name: layer["features"] for name, layer in layers.items()}


@dataclass(frozen=True)
class Cell:
    level: int
    column: int
    row: int


def lowest_bit(value: int) -> int:
    return value & -value


def cell_of(feature: dict, address: tuple[int, int, int]) -> Cell:
    """The cell a feature stands for, from its centre in tile pixels alone.

    A level-L cell seen at zoom z spans s = 2^(z-L) cells of the tile's 64 x 64, so its centre
    is at ((index + 1/2) * s - first) * 64 pixels: twice (pixels / 64 + first) is (2 index + 1)
    times s, an odd number times a power of two, which gives both s and the index.
    """
    zoom, x, y = address
    cell_pixels = tiles.TILE_EXTENT // cells.CELLS_PER_TILE
    spans = []
    for pixel, first in zip(feature["geometry"]["coordinates"], (x, y), strict=True):
        twice = 2 * pixel // cell_pixels + 2 * first * cells.CELLS_PER_TILE
        assert twice > 0 and 2 * pixel % cell_pixels == 0
        spans.append((lowest_bit(twice), (twice // lowest_bit(twice) - 1) // 2))
    (scale, column), (row_scale, row) = spans
    assert scale == row_scale, "a cell must be square in the tile grid"
    return Cell(zoom - int(math.log2(scale)), column, row)


def cell_ground_m(cell: Cell) -> float:
    """The shortest side of a cell on the WGS84 ellipsoid, metres: its edge nearer the pole,
    east to west, or its side, north to south (independent of groundmotion's formulas)."""
    rows = cells.CELLS_PER_TILE * 2**cell.level

    def latitude(edge: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * edge / rows))))

    west, east = cell.column / rows * 360 - 180, (cell.column + 1) / rows * 360 - 180
    north, south = latitude(cell.row), latitude(cell.row + 1)
    poleward = north if abs(north) > abs(south) else south
    width = WGS84.inv(west, poleward, east, poleward)[2]
    height = WGS84.inv(west, south, west, north)[2]
    return min(width, height)


def anonymous_cells(slug: str, layout: Layout, zoom: int) -> list[tuple[Cell, dict]]:
    found = []
    for address in layout.addresses(zoom):
        layers = decoded(tile_bytes(client_for(), slug, address))
        assert set(layers) <= {"cells"}
        for feature in layers.get("cells", []):
            assert not feature.get("id")  # no point ids (decoded as 0 when absent)
            found.append((cell_of(feature, address), feature["properties"]))
    return found


@pytest.mark.django_db
@pytest.mark.parametrize("latitude", LATITUDES)
def test_every_anonymous_cell_is_at_least_the_floor_on_the_ground(latitude: float) -> None:
    layout = Layout(latitude)
    dataset = layout.make("reduced", lonely=True, visibility=Visibility.REDUCED)
    levels = set()
    for zoom in ZOOMS:
        found = anonymous_cells(dataset.slug, layout, zoom)
        assert found, f"zoom {zoom}: the block must show"
        for cell, properties in found:
            assert cell.level <= zoom
            assert cell_ground_m(cell) >= floor_m(), (zoom, cell)
            assert properties["count"] >= min_points(), (zoom, cell)
            levels.add(cell.level)
    # Not coarser than it must be: the next level fails the floor even at the block's edge
    # nearer the equator.
    equatorward = min(layout.block()[1], key=abs)
    finest = max(levels)
    assert cell_ground_m(Cell(finest + 1, 0, row_at(equatorward, finest + 1))) < floor_m()


def row_at(latitude: float, level: int) -> int:
    """The cell row of a latitude at a level (independent formula)."""
    return tile_of(LONGITUDE, latitude, level + int(math.log2(cells.CELLS_PER_TILE)))[2]


@pytest.mark.django_db
@pytest.mark.parametrize("latitude", LATITUDES)
def test_every_stored_reduced_cell_passes_the_floor_and_the_minimum(latitude: float) -> None:
    """The whole reduced pyramid, not only the tiles asked for above."""
    layout = Layout(latitude)
    dataset = layout.make("reduced", lonely=True, visibility=Visibility.REDUCED)
    stored = TileCell.objects.filter(dataset=dataset, zoom__gte=cells.REDUCED_ZOOM_OFFSET)
    rows = list(stored.values_list("zoom", "cell_column", "cell_row", "count", "velocity_count"))
    assert rows
    for zoom, column, row, count, velocity_count in rows:
        cell = Cell(zoom - cells.REDUCED_ZOOM_OFFSET, column, row)
        assert cell_ground_m(cell) >= floor_m(), cell
        assert count >= min_points()
        assert velocity_count == 0 or velocity_count >= min_points()
    # The block lies within one band of leaves, so every level sums the same published points.
    totals = {}
    for zoom, _, _, count, _ in rows:
        totals[zoom] = totals.get(zoom, 0) + count
    assert len(set(totals.values())) == 1, totals


@pytest.mark.django_db
@pytest.mark.parametrize("latitude", LATITUDES)
def test_an_isolated_cluster_of_four_changes_nothing_anonymous_users_see(latitude) -> None:
    """Not in a cell of its own, nor in any coarser cell: else a coarse cell minus its
    published children would give the four points' count and mean velocity back."""
    layout = Layout(latitude)
    without = layout.make("without", lonely=False, visibility=Visibility.REDUCED)
    with_four = layout.make("with-four", lonely=True, visibility=Visibility.REDUCED)
    alone = layout.make("alone", lonely=True, block=False, visibility=Visibility.REDUCED)
    for zoom in ZOOMS:
        for address in layout.addresses(zoom):
            assert sorted_features(tile_bytes(client_for(), with_four.slug, address)) == (
                sorted_features(tile_bytes(client_for(), without.slug, address))
            ), (zoom, address)
            assert tile_bytes(client_for(), alone.slug, address) == b""


@pytest.mark.django_db
@pytest.mark.parametrize("latitude", [43.7, 70.0])
def test_signed_in_users_still_see_the_points_and_every_cell(latitude, registered) -> None:
    layout = Layout(latitude)
    reduced = layout.make("reduced", lonely=True, visibility=Visibility.REDUCED)
    public = layout.make("public", lonely=True)
    lonely_ids = set(reduced.points.filter(velocity=LONELY_VELOCITY).values_list("id", flat=True))
    point_zoom = settings.GROUNDMOTION["POINT_ZOOM"]
    lonely_tile = tile_of(*(place.mean() for place in layout.lonely()), point_zoom + 2)
    layers = decoded(tile_bytes(client_for(registered), reduced.slug, lonely_tile))
    assert lonely_ids <= {feature["id"] for feature in layers["points"]}
    # Below the point zoom, the signed-in cells of the reduced dataset are the normal cells,
    # byte for byte those anonymous users get of the same points published in full.
    for zoom in range(point_zoom):
        for address in layout.addresses(zoom):
            signed_in = tile_bytes(client_for(registered), reduced.slug, address)
            assert signed_in == tile_bytes(client_for(), public.slug, address)
    lonely_cell = tile_of(*(place.mean() for place in layout.lonely()), 9)
    counts = [
        f["properties"]["count"]
        for f in decoded(tile_bytes(client_for(registered), reduced.slug, lonely_cell))["cells"]
    ]
    assert len(LONELY_OFFSETS_M) in counts


@pytest.mark.django_db
def test_a_public_datasets_tiles_are_the_normal_cells_and_points() -> None:
    layout = Layout(43.7)
    dataset = layout.make("public", lonely=True)
    anonymous = AnonymousUser()
    for zoom in ZOOMS:
        for address in layout.addresses(zoom):
            kind = tiles.tile_kind(anonymous, dataset, zoom, address[2])
            assert not kind.reduced
            if zoom >= settings.GROUNDMOTION["POINT_ZOOM"]:
                assert kind.name == "points"
                continue
            assert kind.name == f"cells-{min(zoom, cells.finest_level())}"
            expected = tiles.render_tile(anonymous, dataset, tiles.TileAddress(*address), kind)
            assert tile_bytes(client_for(), dataset.slug, address) == expected
    # The lonely four make a cell of their own, for everyone.
    lonely_cell = tile_of(*(place.mean() for place in layout.lonely()), 9)
    counts = [
        f["properties"]["count"]
        for f in decoded(tile_bytes(client_for(), dataset.slug, lonely_cell))["cells"]
    ]
    assert len(LONELY_OFFSETS_M) in counts


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in_first", [True, False])
def test_the_tile_cache_keeps_reduced_and_normal_cells_apart(registered, signed_in_first) -> None:
    """The same tile and level for a signed-in and an anonymous user, one shared cache."""
    assert settings.GROUNDMOTION["TILE_CACHE_SECONDS"] > 0
    layout = Layout(43.7)
    dataset = layout.make("reduced", lonely=True, visibility=Visibility.REDUCED)
    zoom, x, y = tile_of(*(place.mean() for place in layout.lonely()), 9)
    order = [registered, None] if signed_in_first else [None, registered]
    seen = {}
    for user in order:
        response = client_for(user).get(f"/tiles/{dataset.slug}/{zoom}/{x}/{y}.pbf")
        seen[user is None] = (response["ETag"], decoded(response.content).get("cells", []))
    (full_etag, full_cells), (reduced_etag, reduced_cells) = seen[False], seen[True]
    assert len(LONELY_OFFSETS_M) in [f["properties"]["count"] for f in full_cells]
    assert all(f["properties"]["count"] >= min_points() for f in reduced_cells)
    assert full_etag != reduced_etag
    full = tiles.tile_kind(registered, dataset, zoom, y)
    reduced = tiles.tile_kind(AnonymousUser(), dataset, zoom, y)
    assert full.level == reduced.level and full.name != reduced.name


@pytest.mark.django_db
def test_raised_settings_hold_at_once_before_the_cells_are_rebuilt(settings) -> None:
    layout = Layout(60.0)
    dataset = layout.make("reduced", lonely=True, visibility=Visibility.REDUCED)
    settings.GROUNDMOTION = {
        **settings.GROUNDMOTION,
        "REDUCED_CELL_M": 2_000,
        "REDUCED_MIN_POINTS": 60,
    }
    shown = 0
    for zoom in ZOOMS:
        for cell, properties in anonymous_cells(dataset.slug, layout, zoom):
            assert cell_ground_m(cell) >= 2_000 and properties["count"] >= 60
            shown += 1
    assert shown


@pytest.mark.django_db
def test_the_dataset_extent_is_whole_reduced_cells_for_anonymous_users(registered) -> None:
    layout = Layout(60.0)
    dataset = layout.make("reduced", lonely=True, visibility=Visibility.REDUCED)
    stored = list(dataset.extent.extent)

    def listed(user) -> list[float]:
        items = client_for(user).get("/api/datasets/").json()["datasets"]
        return next(item["extent"] for item in items if item["slug"] == dataset.slug)

    assert listed(registered) == pytest.approx(stored)
    west, south, east, north = listed(None)
    assert west <= stored[0] and south <= stored[1] and east >= stored[2] and north >= stored[3]
    # Its edges fall on the grid of a level whose cells pass the floor at its polar edge.
    passing = [
        level
        for level in range(cells.finest_level() + 1)
        if cell_ground_m(Cell(level, 0, row_at(north, level))) >= floor_m()
    ]
    level = max(passing)
    per_world = cells.CELLS_PER_TILE * 2**level
    for lon in (west, east):
        assert (lon + 180) / 360 * per_world == pytest.approx(round((lon + 180) / 360 * per_world))
    for lat in (south, north):
        row = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * per_world
        assert row == pytest.approx(round(row), abs=1e-6)
    html = client_for().get("/map/").content.decode()
    config = json.loads(html.split('id="viewer-config"', 1)[1].split(">", 1)[1].split("<")[0])
    (shown,) = [item["extent"] for item in config["datasets"] if item["slug"] == dataset.slug]
    assert shown == pytest.approx([west, south, east, north])


@pytest.mark.django_db
def test_no_other_path_gives_anonymous_users_the_points(registered) -> None:
    layout = Layout(38.7)
    dataset = layout.make("reduced", lonely=True, visibility=Visibility.REDUCED)
    lonely_lon, lonely_lat = layout.lonely()
    box = [
        lonely_lon.min() - 0.001,
        lonely_lat.min() - 0.001,
        lonely_lon.max() + 0.001,
        lonely_lat.max() + 0.001,
    ]
    ring = [
        [box[0], box[1]],
        [box[2], box[1]],
        [box[2], box[3]],
        [box[0], box[3]],
        [box[0], box[1]],
    ]
    body = json.dumps(
        {"dataset": dataset.slug, "geometry": {"type": "Polygon", "coordinates": [ring]}}
    )
    for user, allowed in ((None, False), (registered, True)):
        client = client_for(user)
        mean = client.post(reverse("api-area-mean"), body, content_type="application/json")
        assert mean.status_code == (200 if allowed else 403)
        if allowed:
            assert mean.json()["count"] == len(LONELY_OFFSETS_M)
        points = client.get(reverse("api-points", args=[dataset.slug]))
        assert points.status_code == (200 if allowed else 403)
    point = dataset.points.filter(velocity=LONELY_VELOCITY).first()
    assert client_for().get(f"/api/points/{point.pk}/").status_code == 404
    assert client_for().get(f"/api/points/{point.pk}/series.csv").status_code == 404
    bbox = ",".join(str(value) for value in box)
    download = client_for().get(f"/api/downloads/{dataset.slug}/?output=csv&bbox={bbox}")
    assert download.status_code in (401, 403)
    assert client_for().get("/downloads/").status_code == 302  # to the sign-in page


@pytest.mark.django_db
def test_reduced_datasets_give_anonymous_users_cells_of_at_least_500_m(registered) -> None:
    """On the ground at the tile grid's latitude, the floor of 500 m (every latitude: above)."""
    dataset = grid.grid_dataset(visibility=Visibility.REDUCED)
    for zoom in (12, 14, 16):
        address = tile_of(*grid.CENTRE, zoom)
        _, layers, _ = get_tile(client_for(), dataset.slug, *address)
        assert "points" not in layers
        assert not any(feature.get("id") for feature in layers["cells"])  # decoded as 0: none
        assert sum(f["properties"]["count"] for f in layers["cells"]) <= len(grid.LON)
        assert min(f["properties"]["count"] for f in layers["cells"]) >= 5
        level = tiles.tile_kind(AnonymousUser(), dataset, zoom, address[2]).level
        north = grid.LAT.max() + 0.01  # past the grid's polar edge: the narrowest cells
        assert cells.cell_size_m(level) * math.cos(math.radians(north)) >= 500
        # Grid spacing 100 m: 500 m cells hold many points each.
        assert max(f["properties"]["count"] for f in layers["cells"]) >= 16
    _, layers, _ = get_tile(client_for(registered), dataset.slug, *tile_of(*grid.CENTRE, 14))
    assert layers["points"]


def test_the_settings_are_checked_at_start_up() -> None:
    good = {"POINT_ZOOM": 13, "TILE_STATEMENT_TIMEOUT_MS": 5000, "BASEMAP_URL": ""}
    validate_settings({**good, "REDUCED_CELL_M": 500, "REDUCED_MIN_POINTS": 5})
    validate_settings({**good, "REDUCED_CELL_M": cells.MAX_REDUCED_CELL_M})
    bad = [
        ("REDUCED_CELL_M", 0),
        ("REDUCED_CELL_M", cells.MAX_REDUCED_CELL_M + 1),
        ("REDUCED_CELL_M", "500"),
        ("REDUCED_MIN_POINTS", 0),
        ("REDUCED_MIN_POINTS", 2.5),
    ]
    for name, value in bad:
        with pytest.raises(ImproperlyConfigured, match=name):
            validate_settings({**good, name: value})


def test_the_settings_default_to_500_m_and_5_points() -> None:
    assert settings.GROUNDMOTION["REDUCED_CELL_M"] == cells.reduced_cell_m() == 500
    assert settings.GROUNDMOTION["REDUCED_MIN_POINTS"] == cells.reduced_min_points() == 5
