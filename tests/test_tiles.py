"""Vector tiles: decoded with mapbox-vector-tile, checked against the points that went in."""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import pytest
from django.contrib.auth.models import AnonymousUser, Permission
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from groundmotion import cells, tiles
from groundmotion.models import MaskedArea, Status, Visibility
from groundmotion.storage import copy_in
from tests.factories import make_dataset, make_user
from tests.mvt import get_tile, tile_of

# A 20 x 20 grid of points 100 m apart near Dax, velocity = column index - 10 (mm/yr).
COLUMNS = np.arange(20)
LON = np.repeat(-1.06 + COLUMNS * 0.00124, 20)
LAT = np.tile(43.70 + COLUMNS * 0.0009, 20)
VELOCITY = np.repeat(COLUMNS - 10.0, 20)
CENTRE = (-1.06 + 0.0119, 43.70 + 0.0086)


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def grid_dataset(slug: str = "grid", **options) -> object:
    return make_dataset(slug, lon=LON, lat=LAT, velocity=VELOCITY, **options)


def points_in_tile(zoom: int, x: int, y: int) -> np.ndarray:
    """Which grid points fall in a tile, by the independent tile formula."""
    return np.array(
        [tile_of(lon, lat, zoom)[1:] == (x, y) for lon, lat in zip(LON, LAT, strict=True)]
    )


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
    rng = np.random.default_rng(3)
    count = 40_000
    lon, lat = -1.05 + rng.uniform(0, 0.01, count), 43.70 + rng.uniform(0, 0.01, count)
    dataset = make_dataset("dense", lon=lon, lat=lat, velocity=rng.normal(0, 3, count))
    _, layers, response = get_tile(client_for(), dataset.slug, *tile_of(-1.045, 43.705, 13))
    features = layers["points"]
    assert tiles.STRIDE_TARGET / 4 <= len(features) <= tiles.FEATURE_CAP
    assert len(response.content) <= 500_000
    # Uniform: both halves of the square keep a similar share of the features.
    columns = np.array([feature["geometry"]["coordinates"][0] for feature in features])
    middle = (columns.min() + columns.max()) / 2
    assert 0.4 < (columns < middle).mean() < 0.6


@pytest.mark.django_db
def test_masked_points_never_reach_points_or_cells(curator) -> None:
    dataset = grid_dataset()
    square = Polygon.from_bbox((-1.07, 43.69, -1.05, 43.72))  # the western half of the grid
    square.srid = 4326
    area = MaskedArea.objects.create(name="Depot", geom=MultiPolygon(square), reason="Defence")
    cells.refresh_masked_datasets(area)
    hidden = set(dataset.points.filter(geom__intersects=square).values_list("id", flat=True))
    assert 0 < len(hidden) < len(LON)
    for user in (None, curator):
        _, layers, _ = get_tile(client_for(user), dataset.slug, *tile_of(*CENTRE, 14))
        assert not hidden & {feature["id"] for feature in layers["points"]}
        _, layers, _ = get_tile(client_for(user), dataset.slug, *tile_of(*CENTRE, 5))
        assert sum(f["properties"]["count"] for f in layers["cells"]) == len(LON) - len(hidden)
    allowed = make_user("allowed", perms=["view_masked"])
    _, layers, _ = get_tile(client_for(allowed), dataset.slug, *tile_of(*CENTRE, 14))
    assert hidden & {feature["id"] for feature in layers["points"]}


@pytest.mark.django_db
def test_drafts_are_tiled_for_curators_only(curator, registered) -> None:
    dataset = grid_dataset(status=Status.DRAFT)
    address = tile_of(*CENTRE, 14)
    assert get_tile(client_for(), dataset.slug, *address)[0] == 404
    assert get_tile(client_for(registered), dataset.slug, *address)[0] == 404
    status, layers, response = get_tile(client_for(curator), dataset.slug, *address)
    assert status == 200 and layers["points"]
    assert response["Cache-Control"].startswith("private")


@pytest.mark.django_db
def test_restricted_tiles_are_for_the_group_only(partners, member, outsider) -> None:
    dataset = grid_dataset(visibility=Visibility.RESTRICTED, groups=[partners])
    address = tile_of(*CENTRE, 14)
    assert get_tile(client_for(member), dataset.slug, *address)[0] == 200
    assert get_tile(client_for(outsider), dataset.slug, *address)[0] == 404
    assert get_tile(client_for(), dataset.slug, *address)[0] == 404


@pytest.mark.django_db
def test_reduced_datasets_give_anonymous_users_cells_of_at_least_500_m(registered) -> None:
    """On the ground at the grid's latitude (tests/test_reduced_resolution.py: every latitude)."""
    dataset = grid_dataset(visibility=Visibility.REDUCED)
    for zoom in (12, 14, 16):
        address = tile_of(*CENTRE, zoom)
        _, layers, _ = get_tile(client_for(), dataset.slug, *address)
        assert "points" not in layers
        assert not any(feature.get("id") for feature in layers["cells"])  # decoded as 0: none
        assert sum(f["properties"]["count"] for f in layers["cells"]) <= len(LON)
        assert min(f["properties"]["count"] for f in layers["cells"]) >= 5
        level = tiles.tile_kind(AnonymousUser(), dataset, zoom, address[2]).level
        north = LAT.max() + 0.01  # past the grid's polar edge: the narrowest cells
        assert cells.cell_size_m(level) * math.cos(math.radians(north)) >= 500
        # Grid spacing 100 m: 500 m cells hold many points each.
        assert max(f["properties"]["count"] for f in layers["cells"]) >= 16
    _, layers, _ = get_tile(client_for(registered), dataset.slug, *tile_of(*CENTRE, 14))
    assert layers["points"]


@pytest.mark.django_db
def test_etag_follows_the_version_and_answers_304(pass_time) -> None:
    dataset = grid_dataset()
    address = tile_of(*CENTRE, 14)
    client = client_for()
    _, _, first = get_tile(client, dataset.slug, *address)
    assert first["Cache-Control"] == "public, max-age=3600"
    again = client.get(
        f"/tiles/{dataset.slug}/{address[0]}/{address[1]}/{address[2]}.pbf",
        headers={"if-none-match": first["ETag"]},
    )
    assert again.status_code == 304
    copy_in.refresh_summary(dataset)
    pass_time(1.001)  # anonymous lookups of public datasets are kept a second
    _, _, later = get_tile(client, dataset.slug, *address)
    assert later["ETag"] != first["ETag"]


@pytest.mark.django_db
def test_a_new_version_refreshes_the_cells(pass_time) -> None:
    dataset = grid_dataset()
    address = tile_of(*CENTRE, 6)
    _, before, _ = get_tile(client_for(), dataset.slug, *address)
    ids = copy_in.reserve_point_ids(1)
    copy_in.copy_points(
        dataset,
        ids,
        np.array(["EXTRA"]),
        np.array([CENTRE[0]]),
        np.array([CENTRE[1]]),
        {"velocity": np.array([5.0])},
    )
    copy_in.refresh_summary(dataset)
    pass_time(1.001)  # anonymous lookups of public datasets are kept a second
    _, after, _ = get_tile(client_for(), dataset.slug, *address)
    assert sum(f["properties"]["count"] for f in after["cells"]) == len(LON) + 1
    assert sum(f["properties"]["count"] for f in before["cells"]) == len(LON)


@pytest.mark.django_db
def test_hot_tiles_come_from_the_cache_with_one_query_or_none(registered) -> None:
    """Signed in: one dataset lookup, for access and the version (beside the session's own
    queries). Anonymous, on a public dataset: no query within the second the lookup is kept."""
    dataset = grid_dataset()
    address = tile_of(*CENTRE, 14)
    for user, lookups in ((registered, 1), (None, 0)):
        client = client_for(user)
        _, _, first = get_tile(client, dataset.slug, *address)
        with CaptureQueriesContext(connection) as queries:
            _, _, second = get_tile(client, dataset.slug, *address)
        tile_queries = [q["sql"] for q in queries.captured_queries if "groundmotion_" in q["sql"]]
        assert len(tile_queries) == lookups
        assert all('FROM "groundmotion_dataset"' in sql for sql in tile_queries)
        assert second.content == first.content


@pytest.mark.django_db
@pytest.mark.parametrize("zoom", [8, 14])
def test_tile_queries_run_under_a_local_statement_timeout(settings, zoom: int) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_STATEMENT_TIMEOUT_MS": 1234}
    dataset = grid_dataset()
    with CaptureQueriesContext(connection) as queries:
        status, layers, _ = get_tile(client_for(), dataset.slug, *tile_of(*CENTRE, zoom))
    assert status == 200 and layers
    statements = [q["sql"] for q in queries.captured_queries]
    assert any(sql.startswith("SET LOCAL statement_timeout = 1234;") for sql in statements)


@pytest.mark.django_db
@pytest.mark.parametrize("address", [(23, 0, 0), (3, 8, 0), (3, 0, 8), (-1, 0, 0)])
def test_out_of_range_tiles_are_404(address) -> None:
    dataset = grid_dataset()
    assert (
        client_for()
        .get(f"/tiles/{dataset.slug}/{address[0]}/{address[1]}/{address[2]}.pbf")
        .status_code
        == 404
    )


@pytest.mark.django_db
@pytest.mark.parametrize("zoom", [2, 10, 14, 20])
def test_empty_tiles_are_empty_200s(zoom: int) -> None:
    dataset = grid_dataset()
    status, layers, response = get_tile(client_for(), dataset.slug, *tile_of(150.0, -30.0, zoom))
    assert status == 200 and layers == {} and response.content == b""


@pytest.mark.django_db
def test_the_server_cache_can_be_turned_off(settings, django_assert_num_queries) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_CACHE_SECONDS": 0}
    dataset = grid_dataset()
    address = tile_of(*CENTRE, 14)
    get_tile(client_for(), dataset.slug, *address)
    # The tile transaction (the public lookup is kept): savepoint, SET LOCAL with point count,
    # tile, release.
    with django_assert_num_queries(4):
        get_tile(client_for(), dataset.slug, *address)


@pytest.mark.parametrize(
    ("count", "stride"), [(0, 1), (8000, 1), (8001, 4), (32000, 4), (32001, 16), (10**9, 1024)]
)
def test_the_stride_is_the_smallest_power_of_four_that_fits(count: int, stride: int) -> None:
    assert tiles.stride_for(count) == stride


@pytest.mark.django_db
def test_dense_tiles_are_read_through_a_partial_index() -> None:
    rng = np.random.default_rng(4)
    count = 40_000
    lon, lat = -1.05 + rng.uniform(0, 0.01, count), 43.70 + rng.uniform(0, 0.01, count)
    dataset = make_dataset("dense", lon=lon, lat=lat)
    with connection.cursor() as cursor:
        # A test-sized table may be read sequentially; what must hold is that the query's
        # shape matches the partial index, so the planner can use it on large tables.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        address = tiles.TileAddress(*tile_of(-1.045, 43.705, 13))
        stride = tiles.point_stride(dataset, address)
        sql = tiles.point_tile_sql(AnonymousUser(), dataset, address, stride)
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert stride > 1
    assert f"point_geom_stride_{stride}" in plan


@pytest.mark.django_db
def test_a_tile_over_its_statement_timeout_is_a_clean_503(settings) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_STATEMENT_TIMEOUT_MS": 1}
    rng = np.random.default_rng(6)
    count = 60_000
    lon, lat = -1.05 + rng.uniform(0, 0.004, count), 43.70 + rng.uniform(0, 0.004, count)
    dataset = make_dataset("slow", lon=lon, lat=lat)
    status, _, response = get_tile(client_for(), dataset.slug, *tile_of(-1.048, 43.702, 16))
    assert status == 503
    assert response["Retry-After"] == "5"


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
def test_a_mask_saved_in_the_admin_removes_its_points_from_the_cells(curator) -> None:
    dataset = grid_dataset()
    address = tile_of(*CENTRE, 6)
    client = client_for(curator)
    curator.user_permissions.add(*Permission.objects.filter(codename__endswith="maskedarea"))
    square = Polygon.from_bbox((-1.07, 43.69, -1.05, 43.72))  # the western half of the grid
    square.srid = 4326
    hidden = dataset.points.filter(geom__intersects=square).count()
    response = client.post(
        "/admin/groundmotion/maskedarea/add/",
        {
            "name": "Depot",
            "geom": MultiPolygon(square, srid=4326).geojson,
            "reason": "Defence",
            "active": "on",
        },
    )
    assert response.status_code == 302
    _, layers, _ = get_tile(client_for(), dataset.slug, *address)
    assert 0 < hidden < len(LON)
    assert sum(f["properties"]["count"] for f in layers["cells"]) == len(LON) - hidden
