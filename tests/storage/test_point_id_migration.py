"""Migration 0012 converts a database holding data: ids re-keyed into their dataset's range,
series and extras moved into partitions of their own (or the DEFAULT ones), nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
SHIFT = 40


def migrate(url: str, target: str) -> None:
    environment = {**os.environ, "DATABASE_URL": url, "DEBUG": "true"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "groundmotion", target, "-v", "0"],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def scratch_database():
    """A database of its own, named after the test database, dropped afterwards."""
    params = connection.get_connection_params()
    name = f"{params['dbname']}_migration"
    server = {key: params[key] for key in ("host", "port", "user") if key in params}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(dbname=name, autocommit=True, **server) as database:
        database.execute("CREATE EXTENSION postgis")
    url = f"postgis://{server['user']}@{server['host']}:{server['port']}/{name}"
    yield url, lambda: psycopg.connect(dbname=name, autocommit=True, **server)
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def old_shape_data(database: psycopg.Connection) -> tuple[int, int]:
    """Two datasets as 0011 left them: `loaded` in a points partition of its own, `by_hand` in
    the DEFAULT one, each point with a series and an extras row; small sequence ids."""
    dataset = (
        "INSERT INTO groundmotion_dataset (slug, name, area, level, pass_direction, component,"
        " sensor, relative_orbit, wavelength_m, grid_size_m, acquisition_dates, reference_pid,"
        " version, status, visibility, download_policy, licence, attribution, point_count,"
        " extra_columns, provenance, metadata, description, created_at, updated_at)"
        " VALUES (%s, %s, '', 'l2a', 'ascending', '', '', 1, 0.055, 100, '{2020-01-01}', '', 1,"
        " 'published', 'public', 'viewers', '', '', 2, '{easting}', '{}', '{}', '', now(), now())"
        " RETURNING id"
    )
    loaded = database.execute(dataset, ["loaded", "loaded"]).fetchone()[0]
    by_hand = database.execute(dataset, ["by-hand", "by hand"]).fetchone()[0]
    database.execute(
        f"CREATE TABLE groundmotion_measurementpoint_{loaded} PARTITION OF"
        f" groundmotion_measurementpoint FOR VALUES IN ({loaded})"
    )
    for dataset_id in (loaded, by_hand, loaded, by_hand):
        point_id = database.execute(
            "INSERT INTO groundmotion_measurementpoint (dataset_id, pid, geom)"
            " VALUES (%s, 'P' || nextval('groundmotion_measurementpoint_id_seq'),"
            " ST_SetSRID(ST_MakePoint(0, 0), 4326)) RETURNING id",
            [dataset_id],
        ).fetchone()[0]
        database.execute(
            "INSERT INTO groundmotion_pointseries VALUES (%s, %s)", [point_id, b"s%d" % point_id]
        )
        database.execute(
            "INSERT INTO groundmotion_pointextra VALUES (%s, %s)", [point_id, b"e%d" % point_id]
        )
    return loaded, by_hand


@pytest.mark.django_db
def test_migration_0012_rekeys_and_partitions_a_database_with_data(scratch_database) -> None:
    url, connect = scratch_database
    migrate(url, "0011")
    with connect() as database:
        loaded, by_hand = old_shape_data(database)
        before = database.execute(
            "SELECT p.dataset_id, p.id, p.pid, s.displacements, e.values"
            " FROM groundmotion_measurementpoint p JOIN groundmotion_pointseries s"
            " ON s.point_id = p.id JOIN groundmotion_pointextra e ON e.point_id = p.id"
            " ORDER BY p.id"
        ).fetchall()
    assert len(before) == 4
    migrate(url, "0012")
    with connect() as database:
        after = database.execute(
            "SELECT p.dataset_id, p.id, p.pid, s.displacements, e.values, s.tableoid::regclass,"
            " e.tableoid::regclass FROM groundmotion_measurementpoint p"
            " JOIN groundmotion_pointseries s ON s.point_id = p.id"
            " JOIN groundmotion_pointextra e ON e.point_id = p.id ORDER BY p.id"
        ).fetchall()
        new_point = database.execute(
            "INSERT INTO groundmotion_measurementpoint (dataset_id, pid, geom)"
            " VALUES (%s, 'new', ST_SetSRID(ST_MakePoint(0, 0), 4326)) RETURNING id",
            [by_hand],
        ).fetchone()[0]
        with pytest.raises(psycopg.errors.CheckViolation):
            database.execute(
                "INSERT INTO groundmotion_measurementpoint (id, dataset_id, pid, geom)"
                " VALUES (%s, %s, 'wrong', ST_SetSRID(ST_MakePoint(0, 0), 4326))",
                [(loaded << SHIFT) + 999, by_hand],
            )
    assert len(after) == 4
    by_pid = sorted(before, key=lambda row: row[2]), sorted(after, key=lambda row: row[2])
    for old, new in zip(*by_pid, strict=True):
        dataset_id, old_id, pid, series, extras = old
        assert new[:5] == (dataset_id, (dataset_id << SHIFT) + old_id, pid, series, extras)
        if dataset_id == loaded:  # its series and extras in partitions of their own
            assert (new[5], new[6]) == (
                f"groundmotion_pointseries_{loaded}",
                f"groundmotion_pointextra_{loaded}",
            )
        else:
            assert (new[5], new[6]) == (
                "groundmotion_pointseries_default",
                "groundmotion_pointextra_default",
            )
    assert new_point >> SHIFT == by_hand
