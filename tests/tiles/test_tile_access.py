"""Who gets which tile: masks, drafts and restricted datasets in the tiles themselves, and the
kept anonymous lookup of public datasets that must never outlive an access change by more than
its bound. (Every endpoint x user class x case: tests/access/test_matrix.py.)"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.test import Client

from groundmotion import access, cells
from groundmotion.models import Dataset, MaskedArea, Status, Visibility
from tests.factories import client_for, make_user
from tests.mvt import get_tile, tile_of
from tests.tiles.grid import CENTRE, LON, grid_dataset, tile_path


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
