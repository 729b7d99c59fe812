"""Tiles over HTTP: ETags and 304s, gzip, the shared and per-process tile caches, the query
count of a hot tile, and the local statement timeout (a clean 503, never leaked to the
connection)."""

from __future__ import annotations

import gzip

import mapbox_vector_tile
import numpy as np
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from groundmotion import tile_views
from groundmotion.models import Dataset
from groundmotion.storage import copy_in
from tests.factories import client_for
from tests.mvt import get_tile, tile_of
from tests.tiles.grid import CENTRE, LON, dense_dataset, grid_dataset


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
    dataset = dense_dataset("slow", count=60_000, seed=6, side=0.004)
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
    ids = copy_in.reserve_point_ids(1, dataset.pk)
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
def test_the_server_cache_can_be_turned_off(settings, django_assert_num_queries) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_CACHE_SECONDS": 0}
    dataset = grid_dataset()
    address = tile_of(*CENTRE, 14)
    get_tile(client_for(), dataset.slug, *address)
    # The tile transaction (the public lookup is kept): savepoint, SET LOCAL with point count,
    # tile, release.
    with django_assert_num_queries(4):
        get_tile(client_for(), dataset.slug, *address)


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
def test_a_tile_over_its_statement_timeout_is_a_clean_503(settings) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_STATEMENT_TIMEOUT_MS": 1}
    dataset = dense_dataset("slow", count=60_000, seed=6, side=0.004)
    status, _, response = get_tile(client_for(), dataset.slug, *tile_of(-1.048, 43.702, 16))
    assert status == 503
    assert response["Retry-After"] == "5"


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
