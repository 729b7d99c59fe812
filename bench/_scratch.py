"""A scratch database for benchmarks, created from the local cluster and dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dj_database_url
import psycopg

ROOT = Path(__file__).resolve().parent.parent


class Runner:
    def __init__(self, url: str) -> None:
        self.url = url
        self.env = {**os.environ, "DATABASE_URL": url}

    def __call__(self, command: list[str]) -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *command],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    def sql(self, query: str) -> tuple | None:
        url = self.url.replace("postgis://", "postgresql://")
        with psycopg.connect(url, autocommit=True) as connection:
            cursor = connection.execute(query)
            return cursor.fetchone() if cursor.description else None


@contextlib.contextmanager
def scratch_database(name: str) -> Iterator[Runner]:
    base = os.environ.get("DATABASE_URL", "postgis://postgres@127.0.0.1:54329/groundmotion")
    config = dj_database_url.parse(base)
    admin_url = base.replace("postgis://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    url = base.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    assert config["NAME"] != name
    runner = Runner(url)
    runner.sql("CREATE EXTENSION IF NOT EXISTS postgis")
    runner(["migrate", "--noinput", "-v", "0"])
    try:
        yield runner
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
