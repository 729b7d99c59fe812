"""Points, series and extras have no database foreign keys: deletes must still take them
along (Django's on_delete CASCADE), and leave no orphan row behind."""

from __future__ import annotations

import io

import numpy as np
from django.core.management import call_command
from django.db import connection

from groundmotion.models import Dataset, MeasurementPoint, PointExtra, PointSeries
from groundmotion.storage import copy_in
from groundmotion.storage.partitions import delete_points
from tests.factories import make_dataset

COUNT = 40
LON = np.linspace(-1.1, -1.0, COUNT)
LAT = np.linspace(43.7, 43.8, COUNT)


def with_extras(slug: str) -> tuple[Dataset, list[int]]:
    """A dataset whose points all have a series and an extras row; returns it and its ids."""
    dataset = make_dataset(slug, lon=LON, lat=LAT, velocity=np.ones(COUNT))
    ids = list(MeasurementPoint.objects.filter(dataset=dataset).values_list("id", flat=True))
    copy_in.copy_extras(np.array(ids), np.column_stack([np.arange(COUNT), -np.arange(COUNT)]))
    Dataset.objects.filter(pk=dataset.pk).update(extra_columns=["line", "pixel"])
    assert PointSeries.objects.filter(point_id__in=ids).count() == COUNT
    assert PointExtra.objects.filter(point_id__in=ids).count() == COUNT
    return dataset, ids


def orphans() -> tuple[int, int, int]:
    """(series, extras, points) rows whose point or dataset no longer exists, in SQL."""
    counts = []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {copy_in.POINT_TABLE} p WHERE NOT EXISTS"
            " (SELECT 1 FROM groundmotion_dataset d WHERE d.id = p.dataset_id)"
        )
        points = cursor.fetchone()[0]
        for table in (copy_in.SERIES_TABLE, copy_in.EXTRA_TABLE):
            cursor.execute(
                f"SELECT count(*) FROM {table} t WHERE NOT EXISTS"
                f" (SELECT 1 FROM {copy_in.POINT_TABLE} p WHERE p.id = t.point_id)"
            )
            counts.append(cursor.fetchone()[0])
    return counts[0], counts[1], points


def test_there_is_no_database_foreign_key_on_points_series_or_extras(db) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f'"
            " AND conrelid::regclass::text IN (%s, %s, %s)",
            [copy_in.POINT_TABLE, copy_in.SERIES_TABLE, copy_in.EXTRA_TABLE],
        )
        assert cursor.fetchall() == []


def test_deleting_a_dataset_through_django_deletes_its_series_and_extras(db) -> None:
    dataset, ids = with_extras("doomed")
    _, kept_ids = with_extras("kept")

    dataset.delete()

    assert not MeasurementPoint.objects.filter(id__in=ids).exists()
    assert MeasurementPoint.objects.filter(id__in=kept_ids).count() == COUNT
    assert not PointSeries.objects.filter(point_id__in=ids).exists()
    assert not PointExtra.objects.filter(point_id__in=ids).exists()
    assert PointSeries.objects.filter(point_id__in=kept_ids).count() == COUNT
    assert PointExtra.objects.filter(point_id__in=kept_ids).count() == COUNT
    assert orphans() == (0, 0, 0)


def test_deleting_points_through_django_deletes_their_series(db) -> None:
    _, ids = with_extras("half")
    MeasurementPoint.objects.filter(id__in=ids[: COUNT // 2]).delete()
    assert PointSeries.objects.filter(point_id__in=ids).count() == COUNT - COUNT // 2
    assert orphans() == (0, 0, 0)


def test_the_dataset_command_and_replace_leave_no_orphans(db) -> None:
    dataset, _ = with_extras("by-command")
    delete_points(dataset.pk)  # what ingest --replace does first
    assert orphans() == (0, 0, 0) and not MeasurementPoint.objects.filter(dataset=dataset).exists()
    with_extras("by-command-2")
    call_command("dataset", "by-command-2", "--delete", stdout=io.StringIO())
    assert orphans() == (0, 0, 0)
    assert not Dataset.objects.filter(slug="by-command-2").exists()
