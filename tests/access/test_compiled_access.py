"""The per-process compiled access SQL (tiles, point detail) never keeps an access decision:
group membership, masks and dataset states changed after the SQL was compiled take effect at
the next request. Plus CompiledLookup against the ORM it stands in for."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.contrib.gis.geos import MultiPolygon
from django.db import connection
from django.test import Client

from groundmotion import access
from groundmotion.models import (
    Dataset,
    MaskedArea,
    MeasurementPoint,
    PointSeries,
    Status,
    Visibility,
)
from groundmotion.storage import compiled
from groundmotion.storage.compiled import CompiledLookup
from tests.factories import client_for, make_dataset, make_user
from tests.mvt import get_tile, tile_of

COLUMNS = np.arange(10)
LON = np.repeat(-1.06 + COLUMNS * 0.0005, 10)
LAT = np.tile(43.70 + COLUMNS * 0.0004, 10)
CENTRE = (-1.06 + 0.00225, 43.70 + 0.0018)


def tile_ids(client: Client, dataset: Dataset, zoom: int = 15) -> set[int]:
    status, layers, _ = get_tile(client, dataset.slug, *tile_of(*CENTRE, zoom))
    assert status == 200
    return {feature["id"] for feature in layers.get("points", [])}


@pytest.mark.django_db
def test_leaving_a_group_closes_tiles_and_points_of_a_restricted_dataset(settings) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_CACHE_SECONDS": 0}
    group = Group.objects.create(name="partners")
    user = make_user("member", groups=[group])
    dataset = make_dataset(
        "closed", visibility=Visibility.RESTRICTED, groups=[group], lon=LON, lat=LAT
    )
    point = MeasurementPoint.objects.filter(dataset=dataset).first()
    client = client_for(user)
    assert len(tile_ids(client, dataset)) == len(LON)  # compiles and caches the SQL
    assert client.get(f"/api/points/{point.pk}/").status_code == 200
    user.groups.clear()
    address = tile_of(*CENTRE, 15)
    assert (
        client.get(f"/tiles/{dataset.slug}/{address[0]}/{address[1]}/{address[2]}.pbf").status_code
        == 404
    )
    assert client.get(f"/api/points/{point.pk}/").status_code == 404


@pytest.mark.django_db
def test_a_mask_drawn_after_the_sql_was_compiled_hides_its_points_at_once(settings) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_CACHE_SECONDS": 0}
    dataset = make_dataset("masked-later", lon=LON, lat=LAT)
    points = MeasurementPoint.objects.filter(dataset=dataset).order_by("id")
    hidden = points.first()
    assert hidden.pk in tile_ids(Client(), dataset)
    assert Client().get(f"/api/points/{hidden.pk}/").status_code == 200
    MaskedArea.objects.create(name="m", reason="test", geom=MultiPolygon(hidden.geom.buffer(1e-5)))
    shown = tile_ids(Client(), dataset)
    assert hidden.pk not in shown and len(shown) == len(LON) - 1
    assert Client().get(f"/api/points/{hidden.pk}/").status_code == 404
    curator = make_user("curator", curator=True, perms=["view_masked"])
    assert hidden.pk in tile_ids(client_for(curator), dataset)


@pytest.mark.django_db
def test_the_tile_lookup_follows_the_dataset_state_and_reads_the_same_row(settings) -> None:
    dataset = make_dataset("state", visibility=Visibility.REGISTERED)
    user = make_user("reader")
    with pytest.raises(access.Http404):
        access.get_dataset_for_tiles(Client().get("/").wsgi_request.user, dataset.slug)
    found = access.get_dataset_for_tiles(user, dataset.slug)
    expected = Dataset.objects.get(pk=dataset.pk)
    assert [getattr(found, name) for name in access.TILE_DATASET_FIELDS] == [
        getattr(expected, name) for name in access.TILE_DATASET_FIELDS
    ]
    Dataset.objects.filter(pk=dataset.pk).update(visibility=Visibility.PUBLIC, version=7)
    anonymous = Client().get("/").wsgi_request.user
    assert access.get_dataset_for_tiles(anonymous, dataset.slug).version == 7
    with pytest.raises(access.Http404):
        access.get_dataset_for_tiles(user, "no-such-slug")


@pytest.mark.django_db
def test_a_compiled_lookup_gives_what_the_queryset_gives() -> None:
    dataset = make_dataset("compiled", lon=LON[:3], lat=LAT[:3], velocity=np.array([1.0, 2, 3]))
    ids = list(
        MeasurementPoint.objects.filter(dataset=dataset).order_by("id").values_list("id", flat=True)
    )
    PointSeries.objects.filter(point_id=ids[2]).delete()
    queryset = MeasurementPoint.objects.select_related("dataset", "series")
    lookup = CompiledLookup(queryset.filter(pk=-1).order_by("pk")[:1], -1)
    for point_id in ids:
        compiled, orm = lookup.first(point_id), queryset.get(pk=point_id)
        assert (compiled.pk, compiled.pid, compiled.velocity) == (orm.pk, orm.pid, orm.velocity)
        assert compiled.geom.equals_exact(orm.geom) and compiled.dataset.slug == dataset.slug
        assert compiled.dataset.acquisition_dates == orm.dataset.acquisition_dates
    assert bytes(lookup.first(ids[0]).series.displacements) == bytes(
        PointSeries.objects.get(point_id=ids[0]).displacements
    )
    with pytest.raises(PointSeries.DoesNotExist):
        lookup.first(ids[2]).series  # noqa: B018
    assert lookup.first(max(ids) + 1000) is None
    with pytest.raises(ValueError, match="placeholder"):
        CompiledLookup(queryset.filter(pk=5), -1)


@pytest.mark.django_db(transaction=True)
def test_tile_statements_leak_no_setting_to_the_connection(settings) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_CACHE_SECONDS": 0}
    dataset = make_dataset("no-leak", lon=LON, lat=LAT)
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        before = cursor.fetchone()[0]
    assert len(tile_ids(Client(), dataset)) == len(LON)
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == before != "0"


@pytest.mark.django_db
def test_point_detail_is_one_prepared_query_and_still_hides_masked_points(
    django_assert_num_queries,
) -> None:
    """The point with its dataset and series, and the dataset and point rules, in one query,
    which PostgreSQL keeps prepared on the connection."""
    dataset = make_dataset("detail", lon=LON, lat=LAT)
    point = MeasurementPoint.objects.filter(dataset=dataset).order_by("id").first()
    with django_assert_num_queries(1):
        response = Client().get(f"/api/points/{point.pk}/")
    assert response.status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    # The series join is aliased: it carries the dataset's id range (storage/point_ids.py).
    assert [sql for sql in prepared if 'dataset_series."displacements"' in sql]
    assert len(response.json()["displacements"]) == len(dataset.acquisition_dates)
    mask = MaskedArea.objects.create(
        name="m", reason="test", geom=MultiPolygon(point.geom.buffer(0.0001))
    )
    assert mask.active and Client().get(f"/api/points/{point.pk}/").status_code == 404
    Dataset.objects.filter(pk=dataset.pk).update(status=Status.DRAFT)
    other = MeasurementPoint.objects.filter(dataset=dataset).order_by("-id").first()
    assert Client().get(f"/api/points/{other.pk}/").status_code == 404


def test_compiled_lookup_runs_on_the_django_release_its_internals_were_checked_on() -> None:
    """CompiledLookup reads four Django internals (storage/compiled.py): on an upgrade this
    fails first, and the comparisons with the ORM in this file say whether they still hold."""
    import django

    assert django.VERSION[:2] == compiled.TESTED_DJANGO, (
        f"Django {django.get_version()}: re-check CompiledLookup's internals, then update "
        "storage/compiled.TESTED_DJANGO"
    )


@pytest.mark.django_db
def test_every_access_cache_is_registered_and_a_rule_change_passes_all_of_them(
    settings, pass_time
) -> None:
    """Warm every cache of access SQL and answers as an anonymous user, then make the dataset
    restricted: tiles, point detail and the point list refuse at once (the kept public tile
    answer within its bound), with nothing cleared by hand."""
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TILE_CACHE_SECONDS": 0}
    dataset = make_dataset("cached-rules", lon=LON, lat=LAT)
    point = MeasurementPoint.objects.filter(dataset=dataset).first()
    client = Client()
    assert tile_ids(client, dataset)
    assert client.get(f"/api/points/{point.pk}/").status_code == 200
    assert get_tile(client, dataset.slug, *tile_of(*CENTRE, 15))[0] == 200
    assert set(compiled.STORES) == {
        "point lookups",
        "tile lookups",
        "public tile lookups",
        "visible points SQL",
    }
    assert all(compiled.STORES.values()), "a request left a registered cache empty"

    Dataset.objects.filter(pk=dataset.pk).update(visibility=Visibility.RESTRICTED)
    assert client.get(f"/api/points/{point.pk}/").status_code == 404
    pass_time(settings.GROUNDMOTION["PUBLIC_TILE_LOOKUP_MS"] / 1000 + 0.001)
    assert get_tile(client, dataset.slug, *tile_of(*CENTRE, 15))[0] == 404
    assert all(compiled.STORES.values()), "the refusals came from the rules, not a cleared cache"

    compiled.forget_all()
    assert not any(compiled.STORES.values())
