"""`make backup` and `make restore` end to end: a database with demo datasets (each in its
points partition) dumped, restored into a fresh PostgreSQL cluster this test starts, and served
by gunicorn from both: the same tiles, point lists and series, the same access rules.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mapbox_vector_tile
import psycopg
import pytest
from django.conf import settings as django_settings

from groundmotion.storage.partitions import partition_name
from tests.mvt import tile_of

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(f"/usr/lib/postgresql/{os.environ.get('PG_VERSION', '15')}/bin")
# The ports given to this test: clusters on 54350-54359, web servers on 8131-8139.
CLUSTER_PORTS = range(54350, 54360)
SOURCE_WEB_PORT, RESTORED_WEB_PORT = 8131, 8132
PUBLIC, RESTRICTED = "demo-dax-asc-l2a", "demo-dax-desc-l2a"
POINTS_TABLE = "groundmotion_measurementpoint"

pytestmark = pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="no PostgreSQL binaries")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def run(command: list, **environment: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done


def as_postgres(command: list) -> list:
    """PostgreSQL refuses to run as root: as root, its commands run as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def fresh_cluster() -> Iterator[str]:
    """A new PostgreSQL cluster (initdb) on a free port of ours; yields the URL of a database
    that does not exist yet, and stops and removes the cluster after."""
    port = next((p for p in CLUSTER_PORTS if port_is_free(p)), None)
    assert port is not None, "every cluster port of this test is taken"
    # Under /var/tmp: the postgres user cannot reach pytest's root-only temporary folders.
    directory = Path(tempfile.mkdtemp(prefix="gm-restore-", dir="/var/tmp"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    data = directory / "data"
    initdb = [PG_BIN / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8"]
    run(as_postgres([*initdb, "--locale=C.UTF-8"]))
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [PG_BIN / "pg_ctl", "-D", data, "-l", directory / "log"]
    run(as_postgres([*pg_ctl, "-o", options, "-w", "start"]))
    try:
        yield f"postgis://postgres@127.0.0.1:{port}/restored"
    finally:
        subprocess.run(as_postgres([*pg_ctl, "-m", "fast", "-w", "stop"]), capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def source_database() -> Iterator[str]:
    """A database of its own on the test cluster, migrated, with the demo's two tracks (one
    made restricted), loaded by the commands an operator runs; dropped after."""
    settings = django_settings.DATABASES["default"]
    server = f"postgis://{settings['USER']}@{settings['HOST']}:{settings['PORT']}"
    name = f"{settings['NAME']}_backup_source"[:63]
    with psycopg.connect(libpq(f"{server}/postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{server}/{name}"
    try:
        with psycopg.connect(libpq(url), autocommit=True) as database:
            database.execute("CREATE EXTENSION postgis")
        manage = [sys.executable, "manage.py"]
        run([*manage, "migrate", "--noinput", "-v0"], DATABASE_URL=url)
        run([*manage, "make_demo", "--points", "1500", "--seed", "5"], DATABASE_URL=url)
        run([*manage, "dataset", RESTRICTED, "--visibility", "restricted"], DATABASE_URL=url)
        yield url
    finally:
        with psycopg.connect(libpq(f"{server}/postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def gunicorn(database_url: str, port: int, log: Path) -> Iterator[str]:
    assert port_is_free(port), f"port {port} is taken"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", f"-b127.0.0.1:{port}", "-w1"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while port_is_free(port):
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(30)


def fetch(base: str, path: str) -> tuple[int, bytes]:
    """Status and body; an error's body is dropped (DEBUG pages name the server's port)."""
    try:
        with urllib.request.urlopen(base + path, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def served(base: str) -> dict[str, tuple[int, bytes]]:
    """What an anonymous client gets: the public track's points, a point's detail with its
    series, cell and point tiles around it, and the restricted track's tiles and points."""
    status, body = fetch(base, f"/api/datasets/{PUBLIC}/points/")
    assert status == 200
    first = json.loads(body)["points"][0]
    answers = {"points": (status, body)}
    answers["detail"] = fetch(base, f"/api/points/{first['id']}/")
    for zoom in (9, 12, 15):
        _, x, y = tile_of(first["lon"], first["lat"], zoom)
        for slug in (PUBLIC, RESTRICTED):
            answers[f"{slug} z{zoom}"] = fetch(base, f"/tiles/{slug}/{zoom}/{x}/{y}.pbf")
    answers["restricted points"] = fetch(base, f"/api/datasets/{RESTRICTED}/points/")
    return answers


def partitions(url: str) -> tuple[list[tuple[str, str]], int]:
    """Every attached partition as (table, partition), and the number of invalid indexes."""
    with psycopg.connect(libpq(url)) as database:
        attached = database.execute(
            "SELECT i.inhparent::regclass::text, c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relispartition ORDER BY 1, 2"
        ).fetchall()
        invalid = database.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
        return [tuple(row) for row in attached], invalid.fetchone()[0]


def dataset_partitions(url: str) -> set[tuple[str, str]]:
    """The points partitions the two demo tracks should have."""
    with psycopg.connect(libpq(url)) as database:
        ids = database.execute(
            "SELECT id FROM groundmotion_dataset WHERE slug = ANY(%s)", [[PUBLIC, RESTRICTED]]
        ).fetchall()
    return {(POINTS_TABLE, partition_name(dataset_id)) for (dataset_id,) in ids}


def test_a_backup_restored_into_a_fresh_cluster_serves_the_same(tmp_path) -> None:
    backup = tmp_path / "backups" / "demo.dump"
    with source_database() as source, fresh_cluster() as target:
        run(["make", "-s", "backup", f"BACKUP_FILE={backup}"], DATABASE_URL=source)
        assert backup.stat().st_size > 0
        restored = run(["make", "-s", "restore", f"BACKUP_FILE={backup}"], DATABASE_URL=target)
        assert "every index valid" in restored.stderr
        source_partitions, _ = partitions(source)
        restored_partitions, invalid = partitions(target)
        # Both tracks in partitions of their own, attached again.
        assert len(dataset_partitions(source)) == 2
        assert dataset_partitions(source) <= set(source_partitions)
        assert restored_partitions == source_partitions
        assert invalid == 0
        with gunicorn(source, SOURCE_WEB_PORT, tmp_path / "source.log") as source_web:
            before = served(source_web)
        with gunicorn(target, RESTORED_WEB_PORT, tmp_path / "restored.log") as restored_web:
            after = served(restored_web)
        # A second restore into the now full database is refused, naming the way out.
        again = subprocess.run(
            ["make", "-s", "restore", f"BACKUP_FILE={backup}"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": target},
            capture_output=True,
            text=True,
        )
    assert after == before
    assert before["detail"][0] == 200
    assert len(json.loads(before["detail"][1])["displacements"]) > 100
    for zoom in (9, 12, 15):
        status, body = before[f"{PUBLIC} z{zoom}"]
        assert status == 200 and mapbox_vector_tile.decode(body), f"an empty tile at z{zoom}"
        assert before[f"{RESTRICTED} z{zoom}"][0] == 404
    assert before["restricted points"][0] == 404
    assert again.returncode != 0
    assert "RESTORE_REPLACE=yes" in again.stderr
