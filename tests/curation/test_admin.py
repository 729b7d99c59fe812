"""Curation in the admin: dataset page, bulk publish/restrict, masks bump versions, audit CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.contrib.gis.geos import MultiPolygon, Polygon

from groundmotion.models import Dataset, DownloadRecord, Status, Visibility
from tests.factories import make_dataset, make_user

CHANGELIST = "/admin/groundmotion/dataset/"


def test_the_dataset_page_shows_extent_map_counts_and_dates(client, curator) -> None:
    dataset = make_dataset("page-track", lon=[0.1, 0.2], lat=[0.1, 0.2])
    client.force_login(curator)
    html = client.get(f"{CHANGELIST}{dataset.pk}/change/").content.decode()
    assert "id_extent" in html and "leaflet" in html.lower()
    assert "2022-01-01" in html or "1 Jan 2022" in html
    assert "download_groups" in html and "allowed_groups" in html


def test_bulk_publish_and_unpublish_bump_versions(client, curator) -> None:
    drafts = [make_dataset(f"release-{i}", status=Status.DRAFT) for i in range(3)]
    client.force_login(curator)
    ids = [str(d.pk) for d in drafts[:2]]
    client.post(CHANGELIST, {"action": "publish", "_selected_action": ids})
    states = dict(Dataset.objects.values_list("slug", "status"))
    assert states == {"release-0": "published", "release-1": "published", "release-2": "draft"}
    assert Dataset.objects.get(slug="release-0").version == drafts[0].version + 1
    client.post(CHANGELIST, {"action": "unpublish", "_selected_action": ids})
    assert set(Dataset.objects.values_list("status", flat=True)) == {"draft"}


def test_bulk_restrict_to_a_group(client, curator, partners) -> None:
    tracks = [make_dataset(f"national-{i}") for i in range(3)]
    client.force_login(curator)
    data = {
        "action": "restrict_to_group",
        "group": partners.pk,
        "_selected_action": [str(t.pk) for t in tracks],
    }
    client.post(CHANGELIST, data)
    for track in Dataset.objects.all():
        assert track.visibility == Visibility.RESTRICTED
        assert list(track.allowed_groups.all()) == [partners]


def test_restrict_without_a_group_changes_nothing(client, curator) -> None:
    track = make_dataset("national")
    client.force_login(curator)
    client.post(CHANGELIST, {"action": "restrict_to_group", "_selected_action": [str(track.pk)]})
    assert Dataset.objects.get().visibility == Visibility.PUBLIC


def test_staff_without_curation_rights_see_only_visible_datasets(client, partners) -> None:
    make_dataset("open-one")
    make_dataset("draft-one", status=Status.DRAFT)
    viewer = make_user("staff-viewer", perms=["view_dataset"])
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    client.force_login(viewer)
    html = client.get(CHANGELIST).content.decode()
    assert "open-one" in html and "draft-one" not in html


def test_saving_a_mask_in_the_admin_bumps_the_datasets_under_it(client, curator) -> None:
    under = make_dataset("under", lon=[0.1, 0.2], lat=[0.1, 0.2])
    away = make_dataset("away", lon=[5.1, 5.2], lat=[5.1, 5.2])
    client.force_login(curator)
    curator.user_permissions.add(*Permission.objects.filter(codename__endswith="maskedarea"))
    square = Polygon.from_bbox((0.0, 0.0, 0.5, 0.5))
    geometry = MultiPolygon(square, srid=4326).geojson
    response = client.post(
        "/admin/groundmotion/maskedarea/add/",
        {"name": "Depot", "geom": geometry, "reason": "Defence", "active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Dataset.objects.get(slug="under").version == under.version + 1
    assert Dataset.objects.get(slug="away").version == away.version


@pytest.mark.django_db
def test_the_download_audit_is_searchable_and_exports_csv(client, member, registered) -> None:
    dataset = make_dataset("audited")
    for user, points in ((member, 10), (registered, 20)):
        record = DownloadRecord.objects.create(user=user, format="csv", point_count=points)
        record.datasets.set([dataset])
    auditor = make_user("auditor", perms=["view_downloadrecord"])
    auditor.is_staff = True
    auditor.save(update_fields=["is_staff"])
    client.force_login(auditor)
    html = client.get("/admin/groundmotion/downloadrecord/", {"q": "member"}).content.decode()
    assert "member" in html and ">registered<" not in html
    ids = [str(pk) for pk in DownloadRecord.objects.values_list("pk", flat=True)]
    response = client.post(
        "/admin/groundmotion/downloadrecord/", {"action": "export_csv", "_selected_action": ids}
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted((row["user"], row["point_count"]) for row in rows) == [
        ("member", "10"),
        ("registered", "20"),
    ]
    assert all(row["datasets"] == "audited" for row in rows)
