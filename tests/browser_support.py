"""Shared care for live-server browser tests."""

from __future__ import annotations

import time

from django.db import connection


def wait_for_idle_database(timeout_s: float = 10.0) -> None:
    """Wait until no other session runs a query in the test database.

    A closed browser stops sending requests, but the live server may still be answering one;
    flushing the database under it deadlocks. Called before the test database is flushed.
    """
    deadline = time.monotonic() + timeout_s
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state NOT IN ('idle')"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)
