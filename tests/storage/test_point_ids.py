"""Point ids carry their dataset (groundmotion/storage/point_ids.py): lookups by id prune to one
partition of points, series and extras; series and extras are attached and dropped with their
dataset's points."""

from __future__ import annotations

import json

import numpy as np
import psycopg
import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.geos import Point
from django.db import IntegrityError, connection, transaction
from django.http import Http404

from groundmotion import access
from groundmotion.models import Dataset, MeasurementPoint, PointExtra, PointSeries, Status
from groundmotion.storage import copy_in, partitions, point_ids
from groundmotion.storage.tables import EXTRA_TABLE, POINT_TABLE, SERIES_TABLE
from tests.factories import DATES, make_dataset

pytestmark = pytest.mark.django_db(transaction=True)


def staged_dataset(slug: str, count: int = 20, extras: bool = False) -> Dataset:
    """A published dataset loaded as a load does: its own partitions, attached at the end."""
    with partitions.StagedPoints() as staged, transaction.atomic():
        dataset = Dataset.objects.create(
            slug=slug,
            name=slug,
            acquisition_dates=DATES,
            status=Status.PUBLISHED,
            extra_columns=["easting"] if extras else [],
        )
        ids = copy_in.reserve_point_ids(count, dataset.pk)
        lon, lat = np.linspace(-1.1, -1.0, count), np.linspace(43.6, 43.7, count)
        pids = np.array([f"P{i:05d}" for i in range(count)])
        values = {"velocity": np.arange(count, dtype=float)}
        copy_in.copy_points(dataset, ids, pids, lon, lat, values, staged)
        copy_in.copy_series(ids, np.ones((count, len(DATES)), dtype=np.float32))
        if extras:
            copy_in.copy_extras(ids, np.arange(count, dtype=float)[:, None])
        copy_in.finish_load(dataset, staged)
    return dataset


def relations_in_plan(plan: dict) -> list[str]:
    found = [plan["Relation Name"]] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found += relations_in_plan(child)
    return found


def removed_subplans(plan: dict) -> list[int]:
    found = [plan.get("Subplans Removed", 0)]
    for child in plan.get("Plans", []):
        found += removed_subplans(child)
    return found


def plan_of(sql: str, params: list) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def generic_plan(sql: str, params: list) -> dict:
    """The plan a prepared statement settles on after five runs (forced), as it ran."""
    numbered = sql
    for number in range(1, len(params) + 1):
        numbered = numbered.replace("%s", f"${number}", 1)
    values = [value if isinstance(value, int) else str(value) for value in params]
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE generic_lookup AS {numbered}")
        arguments = ", ".join(["%s"] * len(values))
        cursor.execute(
            f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE generic_lookup({arguments})", values
        )
        plan = cursor.fetchone()[0]
        cursor.execute("DEALLOCATE generic_lookup")
        cursor.execute("RESET plan_cache_mode")
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def lookup_statement(point_id: int) -> tuple[str, list]:
    """The anonymous point lookup's statement (access.point_lookup) and its values."""
    lookup = access.point_lookup(AnonymousUser(), True, point_ids.dataset_of(point_id))
    params = [point_id if value == lookup.placeholder else value for value in lookup.params]
    return lookup.sql, params


def test_ids_of_two_datasets_never_collide_and_name_their_dataset() -> None:
    first, second = make_dataset("first"), make_dataset("second")
    a = copy_in.reserve_point_ids(1000, first.pk)
    b = copy_in.reserve_point_ids(1000, second.pk)
    assert not set(a.tolist()) & set(b.tolist())
    assert {point_ids.dataset_of(value) for value in a} == {first.pk}
    assert {point_ids.dataset_of(value) for value in b} == {second.pk}
    low, high = point_ids.id_range(second.pk)
    assert low <= b.min() and b.max() < high
    assert b.max() < 2**53  # exact in JavaScript


def test_a_point_written_row_by_row_gets_an_id_of_its_dataset() -> None:
    dataset = make_dataset("by-hand")
    point = MeasurementPoint.objects.create(dataset=dataset, pid="A", geom=Point(0, 0))
    assert point_ids.dataset_of(point.pk) == dataset.pk
    assert MeasurementPoint.objects.get(point_ids.lookup(point.pk)).pid == "A"


def test_an_id_outside_its_datasets_range_is_refused() -> None:
    first, second = make_dataset("one"), make_dataset("two")
    wrong = int(copy_in.reserve_point_ids(1, first.pk)[0])
    with pytest.raises((IntegrityError, psycopg.errors.CheckViolation)):
        copy_in.copy_points(second, np.array([wrong]), np.array(["X"]), [0.0], [0.0], {})


def test_a_point_lookup_reads_one_partition_among_many_datasets() -> None:
    datasets = [staged_dataset(f"track-{i}") for i in range(12)]
    target = datasets[7]
    point = MeasurementPoint.objects.filter(dataset=target).order_by("pk").first()
    sql, params = lookup_statement(point.pk)
    own = [partitions.partition_name(target.pk), partitions.partition_name(target.pk, SERIES_TABLE)]
    for plan in (plan_of(sql, params), generic_plan(sql, params)):
        relations = relations_in_plan(plan)
        scanned = [name for name in relations if name.startswith((POINT_TABLE, SERIES_TABLE))]
        assert sorted(scanned) == sorted(own)
        assert max(removed_subplans(plan)) == 0  # pruned when planned, not at each run
    # The statement as it was, by id alone, probes every points partition.
    unpruned = sql.replace(f'"{POINT_TABLE}"."dataset_id" = ({target.pk}) AND ', "")
    assert unpruned != sql
    probed = [n for n in relations_in_plan(plan_of(unpruned, params)) if n.startswith(POINT_TABLE)]
    assert len(probed) >= 13  # the twelve partitions and the default
    found, found_dataset = access.point_for_user(AnonymousUser(), point.pk, with_series=True)
    assert (found.pid, found_dataset.pk) == (point.pid, target.pk)
    assert found.series.values().shape == (len(DATES),)


def test_a_point_without_series_or_in_no_range_is_handled() -> None:
    dataset = make_dataset("bare")
    point = MeasurementPoint.objects.create(dataset=dataset, pid="A", geom=Point(0, 0))
    found, _ = access.point_for_user(AnonymousUser(), point.pk, with_series=True)
    with pytest.raises(PointSeries.DoesNotExist):
        found.series  # noqa: B018
    for outside in (point.pk & ((1 << point_ids.SHIFT) - 1), -point.pk, 2**63, 2**80):
        with pytest.raises(Http404):
            access.point_for_user(AnonymousUser(), outside)


def test_a_load_attaches_series_and_extras_and_a_delete_drops_them() -> None:
    dataset = staged_dataset("attached", extras=True)
    series_part = partitions.partition_name(dataset.pk, SERIES_TABLE)
    extras_part = partitions.partition_name(dataset.pk, EXTRA_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent IN (%s::regclass, %s::regclass)",
            [SERIES_TABLE, EXTRA_TABLE],
        )
        attached = {name for (name,) in cursor.fetchall()}
        cursor.execute(f"SELECT count(*) FROM {series_part}")
        assert cursor.fetchone()[0] == 20
    assert {series_part, extras_part} <= attached
    assert PointSeries.objects.filter(point__dataset=dataset).count() == 20
    assert PointExtra.objects.filter(point__dataset=dataset).count() == 20
    low, high = point_ids.id_range(dataset.pk)
    dataset.delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s), to_regclass(%s)", [series_part, extras_part])
        assert cursor.fetchone() == (None, None)
    assert not PointSeries.objects.filter(point_id__gte=low, point_id__lt=high).exists()


def test_a_failed_load_leaves_no_series_table() -> None:
    with pytest.raises(RuntimeError), partitions.StagedPoints() as staged, transaction.atomic():
        dataset = Dataset.objects.create(slug="failing", name="failing", acquisition_dates=DATES)
        ids = copy_in.reserve_point_ids(3, dataset.pk)
        copy_in.copy_points(
            dataset, ids, np.array(["A", "B", "C"]), [0.0] * 3, [0.0] * 3, {}, staged
        )
        copy_in.copy_series(ids, np.ones((3, len(DATES)), dtype=np.float32))
        raise RuntimeError("the load fails")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass(%s)", [partitions.partition_name(dataset.pk, SERIES_TABLE)]
        )
        assert cursor.fetchone()[0] is None
        cursor.execute(f"SELECT count(*) FROM {SERIES_TABLE}")
        assert cursor.fetchone()[0] == 0


def test_a_load_of_no_points_still_attaches_its_three_tables() -> None:
    dataset = staged_dataset("empty", count=0)
    assert dataset.point_count == 0
    with connection.cursor() as cursor:
        for table in (POINT_TABLE, SERIES_TABLE, EXTRA_TABLE):
            cursor.execute(
                "SELECT count(*) FROM pg_inherits WHERE inhrelid = to_regclass(%s)",
                [partitions.partition_name(dataset.pk, table)],
            )
            assert cursor.fetchone()[0] == 1
