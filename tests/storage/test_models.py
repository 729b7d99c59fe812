from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError

from groundmotion.apps import validate_settings
from groundmotion.models import Dataset, MaskedArea, ProcessingJob, Status, Visibility
from tests.factories import make_dataset


@pytest.mark.django_db
def test_a_new_dataset_is_a_public_draft_at_version_one() -> None:
    dataset = Dataset.objects.create(slug="new", name="New")
    assert dataset.status == Status.DRAFT
    assert dataset.visibility == Visibility.PUBLIC
    assert dataset.version == 1
    assert dataset.point_count == 0


@pytest.mark.django_db
def test_dataset_slugs_are_unique() -> None:
    Dataset.objects.create(slug="same", name="A")
    with pytest.raises(IntegrityError):
        Dataset.objects.create(slug="same", name="B")


@pytest.mark.django_db
def test_pids_are_unique_within_a_dataset_only() -> None:
    first = make_dataset("first", lon=[0.0], lat=[0.0])
    second = make_dataset("second", lon=[0.0], lat=[0.0])
    assert first.points.get().pid[4:] == second.points.get().pid[4:]
    point = first.points.get()
    point.pk = None
    with pytest.raises(IntegrityError):
        point.save()


@pytest.mark.django_db
def test_bump_version_increments_in_the_database() -> None:
    dataset = Dataset.objects.create(slug="v", name="V")
    dataset.bump_version()
    dataset.bump_version()
    assert Dataset.objects.get(pk=dataset.pk).version == 3 == dataset.version


@pytest.mark.django_db
def test_to_dict_describes_dates_and_extent() -> None:
    dataset = make_dataset("described", lon=[1.0, 2.0], lat=[43.0, 44.0])
    summary = dataset.to_dict()
    assert summary["date_count"] == 30
    assert summary["first_date"] == "2022-01-01"
    assert summary["point_count"] == 2
    assert summary["extent"][0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.django_db
def test_deleting_a_dataset_deletes_its_points_and_series() -> None:
    dataset = make_dataset("gone", lon=[0.0, 1.0], lat=[0.0, 1.0])
    from groundmotion.models import MeasurementPoint, PointSeries

    dataset.delete()
    assert MeasurementPoint.objects.count() == 0
    assert PointSeries.objects.count() == 0


@pytest.mark.django_db
def test_masked_area_and_job_defaults() -> None:
    square = Polygon.from_bbox((0, 0, 1, 1))
    square.srid = 4326
    area = MaskedArea.objects.create(name="Base", geom=MultiPolygon(square), reason="Security")
    assert area.active
    job = ProcessingJob.objects.create(kind=ProcessingJob.Kind.FIT)
    assert job.state == ProcessingJob.State.QUEUED
    assert job.progress == 0.0


def test_settings_are_validated() -> None:
    good = {"POINT_ZOOM": 13, "TILE_STATEMENT_TIMEOUT_MS": 5000, "BASEMAP_URL": ""}
    validate_settings(good)
    with pytest.raises(ImproperlyConfigured, match="POINT_ZOOM"):
        validate_settings({**good, "POINT_ZOOM": "13"})
    with pytest.raises(ImproperlyConfigured, match="between"):
        validate_settings({**good, "POINT_ZOOM": 40})
