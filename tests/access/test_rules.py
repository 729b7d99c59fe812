"""The rules in groundmotion/access.py, checked directly."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.http import Http404

from groundmotion import access
from groundmotion.models import MaskedArea, Status, Visibility
from tests.factories import make_dataset, make_user

LON = [0.1, 0.2, 0.8]
LAT = [0.1, 0.2, 0.8]


def mask(*datasets) -> MaskedArea:
    square = Polygon.from_bbox((0.5, 0.5, 1.0, 1.0))
    square.srid = 4326
    area = MaskedArea.objects.create(name="Depot", geom=MultiPolygon(square), reason="Defence")
    area.datasets.set(datasets)
    return area


@pytest.mark.django_db
def test_masked_points_are_hidden_from_everyone_without_the_permission(curator) -> None:
    dataset = make_dataset("masked", lon=LON, lat=LAT)
    mask()
    assert access.visible_points(curator, dataset).count() == 2
    allowed = make_user("allowed", perms=["view_masked"])
    assert access.visible_points(allowed, dataset).count() == 3


@pytest.mark.django_db
def test_a_mask_scoped_to_another_dataset_does_not_apply(anonymous) -> None:
    dataset = make_dataset("unmasked", lon=LON, lat=LAT)
    mask(make_dataset("elsewhere"))
    assert access.visible_points(anonymous, dataset).count() == 3


@pytest.mark.django_db
def test_an_inactive_mask_does_not_apply(anonymous) -> None:
    dataset = make_dataset("inactive", lon=LON, lat=LAT)
    area = mask()
    MaskedArea.objects.filter(pk=area.pk).update(active=False)
    assert access.visible_points(anonymous, dataset).count() == 3


@pytest.mark.django_db
def test_reduced_datasets_give_anonymous_users_cells_but_no_points(anonymous, registered) -> None:
    dataset = make_dataset("reduced", visibility=Visibility.REDUCED, lon=LON, lat=LAT)
    assert access.visible_points(anonymous, dataset).count() == 0
    assert access.aggregatable_points(anonymous, dataset).count() == 3
    assert access.visible_points(registered, dataset).count() == 3


@pytest.mark.django_db
def test_restricted_datasets_are_found_only_by_their_groups(partners, member, outsider) -> None:
    make_dataset("secret", visibility=Visibility.RESTRICTED, groups=[partners])
    assert access.get_dataset_for_user(member, "secret")[0].slug == "secret"
    with pytest.raises(Http404):
        access.get_dataset_for_user(outsider, "secret")


@pytest.mark.django_db
def test_drafts_are_for_curators_who_may_also_edit(curator, registered) -> None:
    make_dataset("draft", status=Status.DRAFT)
    dataset, can_edit = access.get_dataset_for_user(curator, "draft")
    assert dataset.slug == "draft" and can_edit
    with pytest.raises(Http404):
        access.get_dataset_for_user(registered, "draft")


@pytest.mark.django_db
def test_a_point_of_a_hidden_dataset_is_not_found(partners, member, outsider) -> None:
    dataset = make_dataset(
        "hidden", visibility=Visibility.RESTRICTED, groups=[partners], lon=LON, lat=LAT
    )
    point_id = dataset.points.first().pk
    assert access.point_for_user(member, point_id)[1] == dataset
    with pytest.raises(Http404):
        access.point_for_user(outsider, point_id)
