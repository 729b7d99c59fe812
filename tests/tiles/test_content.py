"""What a vector tile holds, decoded with mapbox-vector-tile and checked against the points
that went in: cells below the point zoom, thinned points above it, pixels as PostGIS projects
them."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from groundmotion import cells, tiles
from tests.factories import client_for
from tests.mvt import get_tile, tile_of
from tests.tiles.grid import CENTRE, LAT, LON, VELOCITY, dense_dataset, grid_dataset, points_in_tile


@pytest.mark.django_db
@pytest.mark.parametrize("zoom", range(0, 17))
def test_every_zoom_carries_all_points_once_and_stays_under_the_cap(zoom: int) -> None:
    dataset = grid_dataset()
    status, layers, response = get_tile(client_for(), dataset.slug, *tile_of(*CENTRE, zoom))
    assert status == 200
    assert response["Content-Type"] == tiles.CONTENT_TYPE
    inside = points_in_tile(*tile_of(*CENTRE, zoom))
    if zoom >= 13:
        features = layers["points"]
        assert len(features) <= tiles.FEATURE_CAP
        ids = {feature["id"] for feature in features}
        # Points in the buffer of neighbouring tiles may appear too, never fewer than inside.
        assert len(ids) >= inside.sum()
        velocities = {round(feature["properties"]["velocity"]) for feature in features}
        assert velocities <= set(VELOCITY.astype(int))
    else:
        features = layers["cells"]
        assert len(features) <= (cells.CELLS_PER_TILE + 2 * tiles.CELL_BUFFER) ** 2
        own = [feature for feature in features if in_extent(feature)]
        assert sum(feature["properties"]["count"] for feature in own) == inside.sum()


def in_extent(feature: dict) -> bool:
    """Whether a cell's centre lies in its tile, not in the ring of neighbours around it."""
    x, y = feature["geometry"]["coordinates"]
    return 0 < x < tiles.TILE_EXTENT and 0 < y < tiles.TILE_EXTENT


@pytest.mark.django_db
def test_cells_at_a_tile_edge_are_drawn_by_the_neighbouring_tile_too() -> None:
    """The ring of neighbour cells: a cell's disc is not cut in half at the tile's edge.

    Coordinates as mapbox-vector-tile decodes them: x to the east, y up (0 at the bottom).
    """
    dataset = grid_dataset()
    zoom, extent = 10, tiles.TILE_EXTENT
    pixels = extent // cells.CELLS_PER_TILE
    _, x, y = tile_of(*CENTRE, zoom)
    own = get_tile(client_for(), dataset.slug, zoom, x, y)[1]["cells"]
    # Neighbour (dx, dy in tile numbers, y down): its ring cells facing this tile, and this
    # tile's cells along the shared edge.
    sides = {
        (1, 0): (lambda cx, cy: cx < 0 < cy < extent, lambda cx, cy: cx > extent - pixels),
        (-1, 0): (lambda cx, cy: cx > extent and 0 < cy < extent, lambda cx, cy: cx < pixels),
        (0, 1): (lambda cx, cy: cy > extent and 0 < cx < extent, lambda cx, cy: cy < pixels),
        (0, -1): (lambda cx, cy: cy < 0 < cx < extent, lambda cx, cy: cy > extent - pixels),
    }
    compared = 0
    for (dx, dy), (facing, along_edge) in sides.items():
        layers = get_tile(client_for(), dataset.slug, zoom, x + dx, y + dy)[1]
        ring = [f for f in layers.get("cells", []) if facing(*f["geometry"]["coordinates"])]
        edge = [f for f in own if in_extent(f) and along_edge(*f["geometry"]["coordinates"])]
        assert sorted(f["properties"]["count"] for f in ring) == sorted(
            f["properties"]["count"] for f in edge
        )
        for feature in ring:  # never more than one cell beyond the edge
            assert all(-pixels < c < extent + pixels for c in feature["geometry"]["coordinates"])
        compared += len(edge)
    assert compared > 0  # the grid reaches at least one edge at this zoom


@pytest.mark.django_db
def test_cell_means_match_a_plain_numpy_mean() -> None:
    dataset = grid_dataset()
    zoom, x, y = tile_of(*CENTRE, 8)
    _, layers, _ = get_tile(client_for(), dataset.slug, zoom, x, y)
    inside = points_in_tile(zoom, x, y)
    total = sum(f["properties"]["count"] * f["properties"]["velocity"] for f in layers["cells"])
    assert total / inside.sum() == pytest.approx(VELOCITY[inside].mean(), abs=0.1)


@pytest.mark.django_db
def test_point_features_carry_the_point_id_velocity_and_coherence() -> None:
    dataset = grid_dataset()
    _, layers, _ = get_tile(client_for(), dataset.slug, *tile_of(LON[0], LAT[0], 16))
    stored = dict(dataset.points.values_list("id", "velocity"))
    for feature in layers["points"]:
        assert feature["properties"]["velocity"] == pytest.approx(stored[feature["id"]], abs=0.051)
        assert feature["properties"]["coherence"] == pytest.approx(0.9, abs=0.006)


@pytest.mark.django_db
def test_a_dense_tile_is_thinned_uniformly_under_the_cap() -> None:
    dataset = dense_dataset("dense", count=40_000, seed=3, side=0.01, velocity=True)
    _, layers, response = get_tile(client_for(), dataset.slug, *tile_of(-1.045, 43.705, 13))
    features = layers["points"]
    assert tiles.STRIDE_TARGET / 4 <= len(features) <= tiles.FEATURE_CAP
    assert len(response.content) <= 500_000
    # Uniform: both halves of the square keep a similar share of the features.
    columns = np.array([feature["geometry"]["coordinates"][0] for feature in features])
    middle = (columns.min() + columns.max()) / 2
    assert 0.4 < (columns < middle).mean() < 0.6


@pytest.mark.parametrize(
    ("count", "stride"), [(0, 1), (8000, 1), (8001, 4), (32000, 4), (32001, 16), (10**9, 1024)]
)
def test_the_stride_is_the_smallest_power_of_four_that_fits(count: int, stride: int) -> None:
    assert tiles.stride_for(count) == stride


@pytest.mark.django_db
def test_dense_tiles_are_read_through_a_partial_index() -> None:
    dataset = dense_dataset("dense", count=40_000, seed=4, side=0.01)
    with connection.cursor() as cursor:
        # A test-sized table may be read sequentially; what must hold is that the query's
        # shape matches the partial index, so the planner can use it on large tables.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        # Without statistics (autovacuum may not have run yet) the planner guesses a handful of
        # rows and may prefer the (dataset_id, pid) index; a large table always has them.
        cursor.execute("ANALYZE groundmotion_measurementpoint")
        address = tiles.TileAddress(*tile_of(-1.045, 43.705, 13))
        stride = tiles.point_stride(dataset, address)
        sql = tiles.point_tile_sql(AnonymousUser(), dataset, address, stride)
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert stride > 1
    assert f"point_geom_stride_{stride}" in plan


@pytest.mark.django_db
@pytest.mark.parametrize("zoom", [13, 16, 19])
def test_point_pixels_match_postgis_own_projection(zoom: int) -> None:
    dataset = grid_dataset()
    zoom, x, y = tile_of(LON[210], LAT[210], zoom)
    response = client_for().get(f"/tiles/{dataset.slug}/{zoom}/{x}/{y}.pbf")
    decoded = mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, ST_X(g), ST_Y(g) FROM (SELECT id, ST_AsMVTGeom(ST_Transform(geom, 3857),"
            " ST_TileEnvelope(%s, %s, %s), 4096, 256, true) AS g"
            " FROM groundmotion_measurementpoint WHERE dataset_id = %s) AS t WHERE g IS NOT NULL",
            [zoom, x, y, dataset.pk],
        )
        expected = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    features = decoded["points"]["features"]
    assert features
    for feature in features:
        column, row = feature["geometry"]["coordinates"]
        assert abs(column - expected[feature["id"]][0]) <= 1
        assert abs(row - expected[feature["id"]][1]) <= 1


@pytest.mark.django_db
@pytest.mark.parametrize("zoom", [2, 10, 14, 20])
def test_empty_tiles_are_empty_200s(zoom: int) -> None:
    dataset = grid_dataset()
    status, layers, response = get_tile(client_for(), dataset.slug, *tile_of(150.0, -30.0, zoom))
    assert status == 200 and layers == {} and response.content == b""
