"""A primary and its streaming hot standby of their own (scripts/cluster.sh with CLUSTER_DIR),
seeded with two small datasets, and gunicorn serving the service from the pair. Used by
tests/project/test_replicas.py and bench/replicas.py.

`python -m tests.project.replica_pair seed` runs in a child process whose settings point at the
pair's primary (the test process's own settings point at the test database).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "scripts" / "cluster.sh"
PUBLIC_SLUG = "replica-public"
# The name of the tests' own connections, which the server's are told apart from.
TEST_APPLICATION = "replica-tests"
RESTRICTED_SLUG = "replica-restricted"
# A 10 x 10 grid of points about 30 m apart, inside one z14 tile.
GRID_WEST, GRID_SOUTH, GRID_STEP = -1.0500, 43.7000, 0.0004


@dataclass
class Pair:
    """A running primary and standby: ports, the environment that reaches them, helpers."""

    directory: Path
    primary_port: int
    replica_port: int
    environment: dict[str, str] = field(default_factory=dict)

    def url(self, port: int) -> str:
        return f"postgis://postgres@127.0.0.1:{port}/groundmotion"

    def connect(self, port: int) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=port,
            user="postgres",
            dbname="groundmotion",
            application_name=TEST_APPLICATION,
            autocommit=True,
        )

    def cluster(self, command: str) -> None:
        subprocess.run([str(CLUSTER), command], env=self.environment, check=True, timeout=120)

    def caught_up(self, seconds: float = 30) -> None:
        """Wait until the standby has replayed everything the primary has written."""
        with self.connect(self.primary_port) as primary, self.connect(self.replica_port) as replica:
            position = primary.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                behind = replica.execute(
                    "SELECT pg_wal_lsn_diff(%s, pg_last_wal_replay_lsn()) > 0", [position]
                ).fetchone()[0]
                if not behind:
                    return
                time.sleep(0.05)
        raise TimeoutError("the standby did not catch up")


def cluster_environment(directory: Path, primary_port: int, replica_port: int) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        CLUSTER_DIR=str(directory),
        PG_PORT=str(primary_port),
        REPLICA_PORT=str(replica_port),
        # No Redis here: `cluster.sh stop` asks this port's Redis to shut down, and none listens.
        REDIS_PORT=str(free_port()),
        DB_NAME="groundmotion",
    )
    return environment


SMALL_SEED = ["-m", "tests.project.replica_pair", "seed"]


@contextmanager
def replica_pair(
    primary_port: int, replica_port: int, seed_arguments: list[str] = SMALL_SEED
) -> Iterator[Pair]:
    """Primary started, migrated and seeded (`python <seed_arguments>`, by default seed()), then
    its standby; both stopped and removed afterwards. The seed runs before the standby exists,
    under wal_level minimal, as loads are fastest."""
    directory = Path(tempfile.mkdtemp(prefix="gm-replicas-"))
    # As root the clusters run as postgres, who must reach the folder.
    directory.chmod(0o755)
    pair = Pair(directory, primary_port, replica_port)
    pair.environment = cluster_environment(directory, primary_port, replica_port)
    try:
        pair.cluster("start")
        child = {**pair.environment, "DATABASE_URL": pair.url(primary_port), "DEBUG": "true"}
        python = sys.executable
        for command in (
            [python, "manage.py", "migrate", "--noinput", "-v", "0"],
            [python, *seed_arguments],
        ):
            subprocess.run(command, cwd=ROOT, env=child, check=True, timeout=1800)
        pair.cluster("start-replica")
        yield pair
    finally:
        subprocess.run([str(CLUSTER), "stop"], env=pair.environment, timeout=120)
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def served(
    pair: Pair, port: int, log: Path, workers: int = 1, replica: bool = True, **settings: str
) -> Iterator[subprocess.Popen]:
    """gunicorn (sync workers) on the pair's primary, and its standby unless `replica` is
    False, with these settings in its environment; yields the server's process."""
    environment = {
        **pair.environment,
        "DEBUG": "true",
        "DATABASE_URL": pair.url(pair.primary_port),
        "DATABASE_REPLICA_URLS": pair.url(pair.replica_port) if replica else "",
        **settings,
    }
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=output)
    try:
        wait_listening(port, server, log)
        yield server
    finally:
        server.terminate()
        server.wait(30)


def wait_listening(port: int, server: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log.read_text(errors='replace')}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def seed() -> None:
    """Two datasets on the primary: a public one on the grid, a restricted one beside it."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    import numpy as np

    from groundmotion.models import Visibility
    from tests.factories import make_dataset

    column, row = np.meshgrid(np.arange(10), np.arange(10))
    lon = GRID_WEST + GRID_STEP * column.ravel()
    lat = GRID_SOUTH + GRID_STEP * row.ravel()
    make_dataset(PUBLIC_SLUG, lon=lon, lat=lat, velocity=np.full(lon.size, -1.0))
    make_dataset(
        RESTRICTED_SLUG,
        visibility=Visibility.RESTRICTED,
        lon=lon[:5] + 0.01,
        lat=lat[:5],
        velocity=np.full(5, -2.0),
    )


if __name__ == "__main__" and sys.argv[1:] == ["seed"]:
    seed()
