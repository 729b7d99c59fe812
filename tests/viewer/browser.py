"""Shared care for the live-server browser tests: launching Chromium, and waiting for the
live server to go quiet before the database is flushed."""

from __future__ import annotations

import time

from django.db import connection

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    """The system's headless Chromium, started through Playwright's sync API."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)


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
