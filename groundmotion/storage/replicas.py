"""Which database a read runs on: the primary, or a streaming hot standby (a read replica).

The request's database is chosen once, by config.replicas' middleware, and held in a context
variable for the whole request: every statement of one request then reads one snapshot's worth
of the same server, never a mix of two. Outside such a request (commands, jobs, the admin, every
write) it is the primary, "default".

A replica is used only while its probe says it is healthy: it answers, it is still in recovery (a
promoted standby is a second primary, not a copy) and it replays within
REPLICA_MAX_LAG_SECONDS. Each process probes a replica at most once every REPLICA_PROBE_SECONDS.

Lag: 0 when the standby has replayed all the WAL the primary had inserted when asked; else the
age of the last transaction it replayed. Timestamps alone would call an idle pair lagging (the
last commit may be an hour old) and LSNs alone give bytes, not seconds. The insert position, not
the written one: with synchronous_commit off a commit is visible on the primary before its WAL
is written, and a standby at the written position would miss it.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

REPLICA_PREFIX = "replica_"
PRIMARY_POSITION_SQL = "SELECT pg_current_wal_insert_lsn()::text"
# NULL lag when the standby has replayed nothing yet (or is not a standby).
REPLICA_STATE_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s::pg_lsn) >= 0 THEN 0
            ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
       END
"""

read_database: ContextVar[str] = ContextVar("read_database", default=DEFAULT_DB_ALIAS)
turns = itertools.count()


@dataclass
class Probe:
    healthy: bool
    lag_seconds: float | None
    at: float


probes: dict[str, Probe] = {}


def read_alias() -> str:
    """The database alias this request's reads use ("default" unless a replica was chosen)."""
    return read_database.get()


def read_connection() -> BaseDatabaseWrapper:
    """The connection this read uses: storage's viewer reads take it instead of `connection`."""
    return connections[read_alias()]


@contextlib.contextmanager
def reading_from(alias: str) -> Iterator[None]:
    """Reads inside the block run on `alias`."""
    token = read_database.set(alias)
    try:
        yield
    finally:
        read_database.reset(token)


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith(REPLICA_PREFIX)]


def healthy_replica() -> str | None:
    """A replica fit to serve reads now, taken in turn among the healthy ones; None if none is."""
    healthy = [alias for alias in replica_aliases() if probe(alias).healthy]
    if not healthy:
        return None
    return healthy[next(turns) % len(healthy)]


def probe(alias: str) -> Probe:
    """The replica's state, asked at most once every REPLICA_PROBE_SECONDS per process."""
    now = time.monotonic()
    known = probes.get(alias)
    if known is not None and now - known.at < settings.REPLICA_PROBE_SECONDS:
        return known
    lag = lag_seconds(alias)
    healthy = lag is not None and lag <= settings.REPLICA_MAX_LAG_SECONDS
    probes[alias] = Probe(healthy, lag, now)
    return probes[alias]


def mark_down(alias: str) -> None:
    """Skip the replica until its next probe (a statement on it failed)."""
    probes[alias] = Probe(False, None, time.monotonic())
    connections[alias].close()


def still_usable(alias: str) -> bool:
    """False when a statement or a connection attempt failed on the replica and the connection
    is not usable (a statement timeout leaves it usable); the server is asked only after an
    error."""
    replica = connections[alias]
    if not replica.errors_occurred:
        return True
    return replica.connection is not None and replica.is_usable()


def lag_seconds(alias: str) -> float | None:
    """How far the replica's replay is behind the primary, in seconds; None when it cannot serve
    (down, not a standby, nothing replayed yet)."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(PRIMARY_POSITION_SQL)
        position = cursor.fetchone()[0]
    replica = connections[alias]
    # A kept connection may date from before the replica restarted: one more try, on a new one.
    attempts = 2 if replica.connection is not None else 1
    for _ in range(attempts):
        try:
            with replica.cursor() as cursor:
                cursor.execute(REPLICA_STATE_SQL, [position])
                in_recovery, lag = cursor.fetchone()
            break
        except DatabaseError:
            replica.close()
    else:
        return None
    if not in_recovery or lag is None:
        return None
    return float(lag)
