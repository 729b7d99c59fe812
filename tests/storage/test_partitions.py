"""Points partitioned by dataset (groundmotion/storage/partitions.py): a bulk load lands as a
partition of its own with the parent's indexes, a failed one leaves no table, and deletes drop
it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from groundmotion.ingest import csvtable
from groundmotion.ingest.errors import IngestError
from groundmotion.ingest.loader import IngestOptions, ingest
from groundmotion.models import Dataset, MeasurementPoint, PointSeries
from groundmotion.storage import copy_in, partitions
from tests.egms_files import demo_track, egms_columns, egms_csv_text

POINTS = 200


def write_csv(
    tmp_path, name: str = "EGMS_L2b_132_0282_IW2_VV_2021_2022_1.csv", seed: int = 5, track=0
):
    dates, chunk = demo_track(POINTS, seed=seed, track=track)
    path = tmp_path / name
    path.write_text(egms_csv_text(egms_columns(chunk, "l2b", "2018"), chunk["series"], dates))
    return path, chunk


def query(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def partitions_of_points() -> dict[str, str]:
    """{partition name: its bound} of the points table."""
    return dict(
        query(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [partitions.POINT_TABLE],
        )
    )


def point_tables() -> set[str]:
    """Every table named like a points partition, attached or not."""
    rows = query(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE %s",
        [partitions.POINT_TABLE + "\\_%"],
    )
    return {name for (name,) in rows}


def index_bodies(table: str) -> set[str]:
    """Each index's definition from USING on, with UNIQUE: what makes indexes equivalent."""
    rows = query("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table])
    return {
        ("UNIQUE " if d.startswith("CREATE UNIQUE") else "") + d.split(" USING ", 1)[1]
        for (d,) in rows
    }


@pytest.mark.django_db
def test_an_ingest_lands_as_its_own_partition_with_the_parents_indexes(tmp_path) -> None:
    path, chunk = write_csv(tmp_path)
    call_command("ingest", str(path), "--dataset", "parted", stdout=io.StringIO())

    dataset = Dataset.objects.get(slug="parted")
    name = partitions.partition_name(dataset.pk)
    assert partitions_of_points()[name] == f"FOR VALUES IN ({dataset.pk})"
    assert index_bodies(partitions.POINT_TABLE) <= index_bodies(name)
    assert "UNIQUE btree (id)" in index_bodies(name)  # its primary key
    # Every index of the partition is attached to the parent's (no orphan duplicates built).
    attached = query(
        "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " JOIN pg_index x ON x.indexrelid = c.oid WHERE x.indrelid = %s::regclass",
        [name],
    )[0][0]
    assert attached == len(index_bodies(partitions.POINT_TABLE))
    assert query(f"SELECT count(*) FROM {name}")[0][0] == POINTS
    assert dataset.point_count == POINTS
    # Reads through the model (the parent) see the points, and a pid lookup is pruned.
    pid = str(chunk["pid"][17])
    point = MeasurementPoint.objects.get(dataset=dataset, pid=pid)
    assert PointSeries.objects.filter(point=point).exists()
    plan = "\n".join(
        row[0]
        for row in query(
            f"EXPLAIN SELECT id FROM {partitions.POINT_TABLE} WHERE dataset_id = %s AND pid = %s",
            [dataset.pk, pid],
        )
    )
    assert name in plan and partitions.POINT_TABLE + "_default" not in plan


@pytest.mark.django_db
def test_a_failed_ingest_leaves_no_partition_and_no_rows(tmp_path) -> None:
    path, _ = write_csv(tmp_path)
    lines = path.read_text().splitlines()
    lines[150] = lines[150].replace(",", ",x", 1)  # a non-numeric value late in the file
    path.write_text("\n".join(lines) + "\n")
    before = point_tables()
    with pytest.raises(IngestError, match="line 151"):
        ingest([path], IngestOptions(slug="broken", level="l2b"))
    assert point_tables() == before
    assert not Dataset.objects.filter(slug="broken").exists()


@pytest.mark.django_db
def test_deleting_a_dataset_drops_its_partition_with_series(tmp_path) -> None:
    path, _ = write_csv(tmp_path)
    call_command("ingest", str(path), "--dataset", "doomed", stdout=io.StringIO())
    dataset = Dataset.objects.get(slug="doomed")
    ids = list(MeasurementPoint.objects.filter(dataset=dataset).values_list("id", flat=True))
    assert PointSeries.objects.filter(point_id__in=ids).count() == POINTS

    dataset_id = dataset.pk
    dataset.delete()

    assert not partitions.has_partition(dataset_id)
    assert not PointSeries.objects.filter(point_id__in=ids).exists()
    assert not MeasurementPoint.objects.filter(id__in=ids).exists()


@pytest.mark.django_db
def test_replace_reloads_into_the_existing_partition(tmp_path) -> None:
    path, _ = write_csv(tmp_path)
    call_command("ingest", str(path), "--dataset", "again", stdout=io.StringIO())
    other, chunk = write_csv(tmp_path, "EGMS_L2b_132_0282_IW2_VV_2021_2022_2.csv", seed=9)
    call_command("ingest", str(other), "--dataset", "again", "--replace", stdout=io.StringIO())

    dataset = Dataset.objects.get(slug="again")
    name = partitions.partition_name(dataset.pk)
    assert name in partitions_of_points()
    pids = set(MeasurementPoint.objects.filter(dataset=dataset).values_list("pid", flat=True))
    assert pids == {str(pid) for pid in chunk["pid"]}
    assert query(f"SELECT count(*) FROM {name}")[0][0] == POINTS


@pytest.mark.django_db
def test_a_stale_table_of_a_reused_dataset_id_is_replaced() -> None:
    dataset = Dataset.objects.create(slug="reused", name="reused")
    stale = partitions.partition_name(dataset.pk)
    with connection.cursor() as cursor:  # what a flushed test database leaves behind
        cursor.execute(f"CREATE TABLE {stale} (LIKE {partitions.POINT_TABLE}, stale int)")
    with partitions.StagedPoints() as staged:
        ids = copy_in.reserve_point_ids(3, dataset.pk)
        lon, lat = np.array([0.1, 0.2, 0.3]), np.array([45.1, 45.2, 45.3])
        copy_in.copy_points(dataset, ids, np.array(["A", "B", "C"]), lon, lat, {}, staged)
        copy_in.finish_load(dataset, staged)
    described = query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [stale]
    )
    assert ("stale",) not in described and ("pid",) in described
    assert partitions_of_points()[stale] == f"FOR VALUES IN ({dataset.pk})"
    assert query(f"SELECT count(*) FROM {stale}")[0][0] == 3


@pytest.mark.django_db
def test_a_duplicate_pid_found_only_when_indexing_names_its_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(csvtable, "BLOCK_BYTES", 4000)  # the two copies in different blocks
    path, _ = write_csv(tmp_path)
    lines = path.read_text().splitlines()
    first_pid = lines[1].split(",")[0]
    lines[180] = first_pid + lines[180][lines[180].index(",") :]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(IngestError) as error:
        ingest([Path(path)], IngestOptions(slug="dup", level="l2b"))
    assert "line 181" in str(error.value) and "duplicate pid" in str(error.value)
    assert not Dataset.objects.filter(slug="dup").exists()


@pytest.mark.django_db
def test_a_pid_repeated_inside_a_later_file_names_its_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(csvtable, "BLOCK_BYTES", 4000)  # COPYs in the background, then waited
    first, _ = write_csv(tmp_path)
    second, _ = write_csv(tmp_path, "EGMS_L2b_132_0282_IW2_VV_2021_2022_2.csv", track=1)
    lines = second.read_text().splitlines()
    lines[150] = lines[3].split(",")[0] + lines[150][lines[150].index(",") :]
    second.write_text("\n".join(lines) + "\n")
    before = point_tables()
    with pytest.raises(IngestError) as error:
        ingest([first, second], IngestOptions(slug="dup2", level="l2b"))
    assert str(error.value).startswith(f"{second}, line 151, column 'pid': duplicate pid")
    assert point_tables() == before


@pytest.mark.django_db
def test_a_load_drops_the_staged_tables_of_dead_loads_only() -> None:
    abandoned = f"{partitions.STAGING_PREFIX}999999"  # no server process has this pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        alive = f"{partitions.STAGING_PREFIX}{cursor.fetchone()[0]}"
    settings = connection.get_connection_params()
    keys = {key: settings[key] for key in partitions.CONNECTION_KEYS if key in settings}
    with psycopg.connect(**keys, autocommit=True) as other:  # as a killed load left them
        for name in (abandoned, alive):
            other.execute(f"CREATE TABLE {name} (LIKE {partitions.POINT_TABLE})")
        try:
            with partitions.StagedPoints() as staged:
                assert staged.staging_name != alive
            tables = point_tables()
            assert abandoned not in tables and alive in tables
        finally:
            for name in (abandoned, alive):
                other.execute(f"DROP TABLE IF EXISTS {name}")
