"""Tile serving speed paths: round trips, the per-process tile cache, and that neither one
weakens access or lets the tile statement timeout leak to other queries."""

from __future__ import annotations

import gzip

import mapbox_vector_tile
import numpy as np
import pytest
from django.contrib.gis.geos import MultiPolygon
from django.core.cache import cache
from django.db import connection
from django.test import Client

from groundmotion import access, tile_views
from groundmotion.models import Dataset, MaskedArea, MeasurementPoint, Status, Visibility
from tests.factories import make_dataset, make_user
from tests.mvt import get_tile, tile_of

COLUMNS = np.arange(20)
LON = np.repeat(-1.06 + COLUMNS * 0.00124, 20)
LAT = np.tile(43.70 + COLUMNS * 0.0009, 20)
CENTRE = (-1.06 + 0.0119, 43.70 + 0.0086)


def grid_dataset(slug: str = "serving") -> Dataset:
    return make_dataset(slug, lon=LON, lat=LAT, velocity=np.repeat(COLUMNS - 10.0, 20))


def statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("zoom", "expected_queries"), [(8, 2), (14, 3)])
def test_uncached_tiles_take_no_begin_or_commit_and_leak_no_timeout(
    settings, django_assert_num_queries, zoom: int, expected_queries: int
) -> None:
    """Outside a transaction (as under gunicorn): lookup, then one message per statement."""
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_CACHE_SECONDS": 0}
    dataset = grid_dataset()
    before = statement_timeout()
    # Cells: lookup + (SET LOCAL; cells). Points: lookup + count (an index-only scan of the
    # cells, prepared) + (SET LOCAL; tile).
    with django_assert_num_queries(expected_queries) as queries:
        status, layers, _ = get_tile(Client(), dataset.slug, *tile_of(*CENTRE, zoom))
    assert status == 200 and layers
    assert queries.captured_queries[-1]["sql"].startswith("SET LOCAL statement_timeout")
    assert statement_timeout() == before != "5s"


@pytest.mark.django_db(transaction=True)
def test_a_timed_out_tile_outside_a_transaction_is_a_503_and_the_connection_lives_on(
    settings,
) -> None:
    settings.GROUNDMOTION = {
        **settings.GROUNDMOTION,
        "TILE_STATEMENT_TIMEOUT_MS": 1,
        "TILE_CACHE_SECONDS": 0,
    }
    rng = np.random.default_rng(6)
    count = 60_000
    lon, lat = -1.05 + rng.uniform(0, 0.004, count), 43.70 + rng.uniform(0, 0.004, count)
    dataset = make_dataset("slow", lon=lon, lat=lat)
    status, _, response = get_tile(Client(), dataset.slug, *tile_of(-1.048, 43.702, 16))
    assert status == 503 and response["Retry-After"] == "5"
    assert Dataset.objects.filter(pk=dataset.pk).count() == 1  # not an aborted transaction
    assert statement_timeout() != "1ms"


@pytest.mark.django_db
def test_a_tile_from_the_shared_cache_fills_the_process_cache(django_assert_num_queries) -> None:
    dataset = grid_dataset()
    address = tile_of(*CENTRE, 14)
    _, _, first = get_tile(Client(), dataset.slug, *address)
    key = tile_views.tile_cache_key(
        dataset.pk, dataset.version, "points", tile_views.tiles.TileAddress(*address)
    )
    assert tile_views.local_tiles.get(key) == cache.get(key)  # both hold the gzip bytes
    assert gzip.decompress(cache.get(key)) == first.content
    tile_views.local_tiles.entries.pop(key)  # as another gunicorn worker would see it
    with django_assert_num_queries(0):  # the public lookup is kept; the tile is in Redis
        _, _, second = get_tile(Client(), dataset.slug, *address)
    assert second.content == first.content
    assert tile_views.local_tiles.get(key) == cache.get(key)


@pytest.mark.django_db
@pytest.mark.parametrize("cache_seconds", [0, 3600])
def test_tiles_go_gzip_compressed_to_clients_that_accept_it(settings, cache_seconds: int) -> None:
    """Same MVT either way; each encoding its own ETag and 304; Vary names Accept-Encoding."""
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_CACHE_SECONDS": cache_seconds}
    dataset = grid_dataset()
    path = "/tiles/{}/{}/{}/{}.pbf".format(dataset.slug, *tile_of(*CENTRE, 14))
    plain = Client().get(path)
    zipped = Client().get(path, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert "Content-Encoding" not in plain and zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert mapbox_vector_tile.decode(plain.content)["points"]["features"]
    assert len(zipped.content) < len(plain.content)
    assert plain["ETag"] != zipped["ETag"]
    for response in (plain, zipped):
        assert response["Vary"] == "Cookie, Accept-Encoding"
    revalidated = Client().get(path, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=zipped["ETag"])
    assert revalidated.status_code == 304
    # The plain ETag does not validate the gzip representation, nor the other way round.
    assert Client().get(path, HTTP_IF_NONE_MATCH=zipped["ETag"]).status_code == 200
    assert (
        Client()
        .get(path, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=plain["ETag"])
        .status_code
        == 200
    )


@pytest.mark.django_db
def test_an_empty_tile_stays_empty_under_gzip() -> None:
    dataset = grid_dataset()
    response = Client().get(
        "/tiles/{}/{}/{}/{}.pbf".format(dataset.slug, *tile_of(100.0, -40.0, 14)),
        HTTP_ACCEPT_ENCODING="gzip",
    )
    assert response.status_code == 200 and response.content == b""
    assert "Content-Encoding" not in response


def tile_path(dataset: Dataset, zoom: int = 14) -> str:
    return "/tiles/{}/{}/{}/{}.pbf".format(dataset.slug, *tile_of(*CENTRE, zoom))


@pytest.mark.django_db
def test_a_cached_tile_is_refused_once_its_dataset_is_hidden(pass_time, curator) -> None:
    """Access is decided per request: a hidden dataset 404s even with its tile still cached.

    Anonymous users' lookups of public datasets are kept PUBLIC_TILE_LOOKUP_MS (1 s): within
    it the tile that was public goes on being served; after it, never. Signed-in users ask the
    database at every request.
    """
    dataset = grid_dataset()
    assert Client().get(tile_path(dataset)).status_code == 200
    Dataset.objects.filter(pk=dataset.pk).update(status=Status.DRAFT)  # version unchanged
    assert Client().get(tile_path(dataset)).status_code == 200  # within the kept second
    pass_time(1.001)
    assert Client().get(tile_path(dataset)).status_code == 404
    Dataset.objects.filter(pk=dataset.pk).update(status=Status.PUBLISHED)
    assert Client().get(tile_path(dataset)).status_code == 200  # a 404 is never kept
    client = Client()
    client.force_login(curator)
    client.get(tile_path(dataset))
    Dataset.objects.filter(pk=dataset.pk).update(status=Status.DRAFT)
    outsider = make_user("outsider")
    client.force_login(outsider)
    assert client.get(tile_path(dataset)).status_code == 404  # signed in: asked at once


@pytest.mark.django_db
@pytest.mark.parametrize(
    "visibility", [Visibility.REGISTERED, Visibility.RESTRICTED, Visibility.PUBLIC]
)
def test_only_published_public_datasets_are_kept_for_anonymous_users(
    visibility, curator, django_assert_num_queries
) -> None:
    published = grid_dataset("shown")
    Dataset.objects.filter(pk=published.pk).update(visibility=visibility)
    draft = grid_dataset("draft")
    Dataset.objects.filter(pk=draft.pk).update(status=Status.DRAFT)
    signed_in = Client()
    signed_in.force_login(curator)
    for dataset in (published, draft):
        assert signed_in.get(tile_path(dataset)).status_code == 200
        Client().get(tile_path(dataset))
    kept = set(access.public_tile_lookups)
    assert kept == ({"shown"} if visibility == Visibility.PUBLIC else set())
    if visibility == Visibility.PUBLIC:
        with django_assert_num_queries(0):
            assert Client().get(tile_path(published)).status_code == 200


@pytest.mark.django_db
def test_no_lookup_is_kept_when_the_setting_is_zero(settings, django_assert_num_queries) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "PUBLIC_TILE_LOOKUP_MS": 0}
    dataset = grid_dataset()
    Client().get(tile_path(dataset))
    with django_assert_num_queries(1):  # the lookup; the tile is cached
        assert Client().get(tile_path(dataset)).status_code == 200
    assert not access.public_tile_lookups


def test_the_process_cache_evicts_the_least_recently_used_tiles_by_bytes() -> None:
    local = tile_views.LocalTiles(limit_bytes=10)
    local.put("a", b"1234")
    local.put("b", b"5678")
    assert local.get("a") == b"1234"  # a is now the most recently used
    local.put("c", b"90")  # 10 bytes: still fits
    local.put("d", b"xyz")  # 13 bytes: b, the least recently used, goes
    assert local.get("b") is None
    assert [local.get(key) for key in "acd"] == [b"1234", b"90", b"xyz"]
    assert local.size_bytes == 9
    local.put("huge", b"x" * 11)  # larger than the whole cache: never stored
    assert local.get("huge") is None and local.size_bytes == 9


@pytest.mark.django_db
def test_point_detail_is_one_prepared_query_and_still_hides_masked_points(
    django_assert_num_queries,
) -> None:
    """The point with its dataset and series, and the dataset and point rules, in one query,
    which PostgreSQL keeps prepared on the connection."""
    dataset = grid_dataset()
    point = MeasurementPoint.objects.filter(dataset=dataset).order_by("id").first()
    with django_assert_num_queries(1):
        response = Client().get(f"/api/points/{point.pk}/")
    assert response.status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert [sql for sql in prepared if '"groundmotion_pointseries"."displacements"' in sql]
    assert len(response.json()["displacements"]) == len(dataset.acquisition_dates)
    mask = MaskedArea.objects.create(
        name="m", reason="test", geom=MultiPolygon(point.geom.buffer(0.0001))
    )
    assert mask.active and Client().get(f"/api/points/{point.pk}/").status_code == 404
    Dataset.objects.filter(pk=dataset.pk).update(status=Status.DRAFT)
    other = MeasurementPoint.objects.filter(dataset=dataset).order_by("-id").first()
    assert Client().get(f"/api/points/{other.pk}/").status_code == 404
