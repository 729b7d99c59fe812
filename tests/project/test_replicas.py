"""Read replicas against a real streaming standby: gunicorn serves the service from a primary
and its hot standby (tests/project/replica_pair.py); the router's choices are read from the
answers. To tell the two servers apart, replay on the standby is paused and the primary
changed: an answer with the old values came from the standby, one with the new from the
primary."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

import mapbox_vector_tile
import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.test import RequestFactory

from config import replicas
from groundmotion.storage.replicas import reading_from
from tests.mvt import tile_of
from tests.project.replica_pair import (
    GRID_SOUTH,
    GRID_WEST,
    PUBLIC_SLUG,
    RESTRICTED_SLUG,
    TEST_APPLICATION,
    Pair,
    replica_pair,
    served,
)

PRIMARY_PORT, REPLICA_PORT, SERVER_PORT = 54342, 54343, 8112
MAX_LAG_SECONDS, PROBE_SECONDS = 4, 1
TILE = tile_of(GRID_WEST + 0.001, GRID_SOUTH + 0.001, 14)
changes = itertools.count(1)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with replica_pair(PRIMARY_PORT, REPLICA_PORT) as pair:
        yield pair


@pytest.fixture(scope="module")
def server(pair, point_ids, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("replicas") / "gunicorn.log"
    with served(
        pair,
        SERVER_PORT,
        log,
        REPLICA_MAX_LAG_SECONDS=str(MAX_LAG_SECONDS),
        REPLICA_PROBE_SECONDS=str(PROBE_SECONDS),
        REPLICA_STICKY_SECONDS="30",
        # Every request reads the database: no tile cache, no kept tile lookup.
        GROUNDMOTION_TILE_CACHE_SECONDS="0",
        GROUNDMOTION_PUBLIC_TILE_LOOKUP_MS="0",
    ):
        url = f"http://127.0.0.1:{SERVER_PORT}"
        warm_up(url, point_ids[PUBLIC_SLUG])
        yield url


def warm_up(server: str, point: int) -> None:
    """The worker's first requests import and compile what later ones reuse (seconds on a
    busy machine): done before any test counts against the lag bound."""
    zoom, x, y = TILE
    paths = [
        "/api/datasets/",
        "/",
        f"/ogc/collections/{PUBLIC_SLUG}/items",
        f"/tiles/{PUBLIC_SLUG}/{zoom}/{x}/{y}.pbf",
        *(f"/api/points/{point}/{path}" for path in ("", "plot.png", "plot.svg", "series.csv")),
    ]
    for path in paths:
        requests.get(server + path, timeout=300)
    profile(requests.Session(), server)


@pytest.fixture(scope="module")
def point_ids(pair) -> dict[str, int]:
    with pair.connect(pair.primary_port) as primary:
        rows = primary.execute(
            "SELECT d.slug, min(p.id) FROM groundmotion_measurementpoint p"
            " JOIN groundmotion_dataset d ON d.id = p.dataset_id GROUP BY d.slug"
        ).fetchall()
    return dict(rows)


@dataclass
class Change:
    """What the primary now holds and the paused standby does not."""

    velocity: float
    name: str
    velocity_before: float
    name_before: str
    # Monotonic time just before the last transaction the standby replays: its lag is at most
    # the time since.
    made_at: float


@contextmanager
def primary_ahead(pair: Pair, draft: bool = False) -> Iterator[Change]:
    """Replay paused right after a fresh transaction, then the public dataset changed on the
    primary (new velocities and name, a new version; a draft again if asked). The standby's lag
    grows from 0 from then on. Replay resumes, and the standby catches up, afterwards."""
    number = next(changes)
    with pair.connect(pair.primary_port) as primary, pair.connect(pair.replica_port) as replica:
        before = primary.execute(
            "SELECT min(p.velocity), min(d.name) FROM groundmotion_measurementpoint p"
            " JOIN groundmotion_dataset d ON d.id = p.dataset_id WHERE d.slug = %s",
            [PUBLIC_SLUG],
        ).fetchone()
        change = Change(float(number * 10), f"Changed {number}", *before, time.monotonic())
        primary.execute("SELECT txid_current()")
        pair.caught_up()
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            dataset = primary.execute(
                "UPDATE groundmotion_dataset SET version = version + 1, name = %s,"
                " status = %s WHERE slug = %s RETURNING id",
                [change.name, "draft" if draft else "published", PUBLIC_SLUG],
            ).fetchone()[0]
            primary.execute(
                "UPDATE groundmotion_measurementpoint SET velocity = %s WHERE dataset_id = %s",
                [change.velocity, dataset],
            )
            yield change
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
            if draft:
                primary.execute(
                    "UPDATE groundmotion_dataset SET status = 'published' WHERE slug = %s",
                    [PUBLIC_SLUG],
                )
            pair.caught_up()


def within_lag_bound(change: Change) -> None:
    """The standby must still have been within the bound: else a slow machine, not the router,
    would explain an answer from the primary."""
    assert time.monotonic() - change.made_at < MAX_LAG_SECONDS, "too slow to tell"


def point_velocity(client: requests.Session | ModuleType, server: str, point: int) -> float:
    response = client.get(f"{server}/api/points/{point}/", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["velocity"]


def tile_velocities(server: str) -> set[float]:
    zoom, x, y = TILE
    response = requests.get(f"{server}/tiles/{PUBLIC_SLUG}/{zoom}/{x}/{y}.pbf", timeout=30)
    assert response.status_code == 200
    layers = mapbox_vector_tile.decode(response.content)
    return {
        feature["properties"]["velocity"]
        for layer in layers.values()
        for feature in layer["features"]
    }


def ogc_velocities(server: str) -> set[float]:
    response = requests.get(
        f"{server}/ogc/collections/{PUBLIC_SLUG}/items", params={"limit": 5}, timeout=30
    )
    assert response.status_code == 200, response.text
    return {feature["properties"]["velocity"] for feature in response.json()["features"]}


def api_dataset_name(server: str) -> str:
    body = requests.get(f"{server}/api/datasets/", timeout=30).json()
    return next(item["name"] for item in body["datasets"] if item["slug"] == PUBLIC_SLUG)


def profile(client: requests.Session, server: str) -> requests.Response:
    line = {"type": "LineString", "coordinates": [[GRID_WEST - 0.001, GRID_SOUTH], [-1.04, 43.7]]}
    return client.post(
        f"{server}/api/profile/",
        json={"dataset": PUBLIC_SLUG, "line": line, "width": 100},
        timeout=30,
    )


def test_it_serves_tiles_points_ogc_items_and_api_lists_from_the_standby(server, pair, point_ids):
    with primary_ahead(pair) as change:
        point = point_velocity(requests, server, point_ids[PUBLIC_SLUG])
        tile = tile_velocities(server)
        items = ogc_velocities(server)
        name = api_dataset_name(server)
        # Not one of the viewer's reads: the home page lists what the primary holds.
        home = requests.get(f"{server}/", timeout=30).text
        within_lag_bound(change)
    assert point == change.velocity_before
    assert tile == {change.velocity_before}
    assert items == {change.velocity_before}
    assert name == change.name_before
    assert change.name in home


def test_plots_and_series_come_from_the_standby_until_it_replays_a_change_to_draft(
    server, pair, point_ids
):
    point = point_ids[PUBLIC_SLUG]
    with primary_ahead(pair, draft=True) as change:
        on_standby = [
            requests.get(f"{server}/api/points/{point}/{path}", timeout=30)
            for path in ("plot.png", "plot.svg", "series.csv")
        ]
        within_lag_bound(change)
        writer = requests.Session()
        profile(writer, server)
        on_primary = writer.get(f"{server}/api/points/{point}/plot.png", timeout=30)
    assert [response.status_code for response in on_standby] == [200, 200, 200]
    assert on_standby[0].headers["Content-Type"] == "image/png"
    assert on_primary.status_code == 404


def test_a_write_goes_to_the_primary_and_so_do_that_clients_reads_after_it(server, pair, point_ids):
    point = point_ids[PUBLIC_SLUG]
    writer = requests.Session()
    with primary_ahead(pair) as change:
        before = point_velocity(writer, server, point)
        posted = profile(writer, server)
        after = point_velocity(writer, server, point)
        others = point_velocity(requests, server, point)
        within_lag_bound(change)
    assert before == change.velocity_before
    assert posted.status_code == 200, posted.text
    assert posted.json()["name"] == change.name
    assert replicas.STICKY_COOKIE in writer.cookies
    assert after == change.velocity
    assert others == change.velocity_before


def test_a_standby_lagging_past_the_bound_is_skipped(server, pair, point_ids):
    with primary_ahead(pair) as change:
        time.sleep(
            max(0.0, change.made_at + MAX_LAG_SECONDS + PROBE_SECONDS + 0.3 - time.monotonic())
        )
        point = point_velocity(requests, server, point_ids[PUBLIC_SLUG])
        tile = tile_velocities(server)
    assert point == change.velocity
    assert tile == {change.velocity}


def test_a_standby_that_is_down_is_skipped_and_used_again_once_back(server, pair, point_ids):
    point = point_ids[PUBLIC_SLUG]
    with pair.connect(pair.primary_port) as primary:
        current = primary.execute(
            "SELECT velocity FROM groundmotion_measurementpoint WHERE id = %s", [point]
        ).fetchone()[0]
    point_velocity(requests, server, point)
    pair.cluster("stop-replica")
    try:
        # The first read may still find the standby healthy from its last probe: it fails on
        # the standby and is answered again from the primary.
        answers = [point_velocity(requests, server, point) for _ in range(3)]
        tile = tile_velocities(server)
    finally:
        pair.cluster("start-replica")
    pair.caught_up()
    time.sleep(PROBE_SECONDS + 0.2)
    with primary_ahead(pair) as change:
        back = point_velocity(requests, server, point)
        within_lag_bound(change)
    assert answers == [current] * 3
    assert tile == {current}
    assert back == current != change.velocity


def cut_servers_standby_connections(pair: Pair) -> int:
    """Terminate the server's sessions on the standby, as a standby going away would."""
    with pair.connect(pair.replica_port) as replica:
        return len(
            replica.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = 'groundmotion' AND application_name <> %s",
                [TEST_APPLICATION],
            ).fetchall()
        )


@pytest.mark.parametrize("read", ["point", "tile"])
def test_a_read_whose_standby_connection_breaks_midway_is_answered_by_the_primary(
    server, pair, point_ids, read
):
    time.sleep(PROBE_SECONDS)  # the next read probes the standby afresh, and finds it healthy
    ask = {
        "point": lambda: {point_velocity(requests, server, point_ids[PUBLIC_SLUG])},
        "tile": lambda: tile_velocities(server),
    }[read]
    with primary_ahead(pair) as change:
        before = ask()
        cut = cut_servers_standby_connections(pair)
        # Within the probe's lifetime: the standby is still taken for healthy, and fails.
        after = ask()
        within_lag_bound(change)
    time.sleep(PROBE_SECONDS)  # the standby, marked down, is probed again by the next test
    assert before == {change.velocity_before}
    assert cut >= 1
    assert after == {change.velocity}


def test_access_rules_hold_on_the_standby(server, pair, point_ids):
    restricted = point_ids[RESTRICTED_SLUG]
    zoom, x, y = TILE
    with primary_ahead(pair) as change:
        point = requests.get(f"{server}/api/points/{restricted}/", timeout=30)
        tile = requests.get(f"{server}/tiles/{RESTRICTED_SLUG}/{zoom}/{x}/{y}.pbf", timeout=30)
        items = requests.get(f"{server}/ogc/collections/{RESTRICTED_SLUG}/items", timeout=30)
        served_from_standby = point_velocity(requests, server, point_ids[PUBLIC_SLUG])
        within_lag_bound(change)
    assert served_from_standby == change.velocity_before
    assert (point.status_code, tile.status_code, items.status_code) == (404, 404, 404)


@pytest.mark.parametrize(
    ("method", "path", "replica"),
    [
        ("GET", "/tiles/a/14/1/2.pbf", True),
        ("HEAD", "/api/points/1/", True),
        ("GET", "/ogc/collections/a/items", True),
        ("POST", "/api/profile/", False),
        ("GET", "/api/downloads/a/", False),
        ("GET", "/api/jobs/", False),
        ("GET", "/admin/", False),
        ("GET", "/map/", False),
    ],
)
def test_it_sends_only_the_viewers_reads_to_a_replica(method, path, replica):
    request = RequestFactory().generic(method, path)
    assert replicas.is_replica_read(request) is replica


def test_the_sticky_cookie_holds_until_its_time():
    factory = RequestFactory()
    now = time.time()
    assert replicas.sticks_to_primary(
        factory.get("/", HTTP_COOKIE=f"gm_primary_until={now + 5}"), now
    )
    assert not replicas.sticks_to_primary(
        factory.get("/", HTTP_COOKIE=f"gm_primary_until={now - 1}"), now
    )
    assert not replicas.sticks_to_primary(factory.get("/", HTTP_COOKIE="gm_primary_until=x"), now)


def test_without_replicas_nothing_is_routed():
    if settings.DATABASE_REPLICA_URLS:
        pytest.skip("this run has replicas configured")
    assert settings.DATABASE_ROUTERS == []
    assert "config.replicas.ReplicaReads" not in settings.MIDDLEWARE
    assert [alias for alias in settings.DATABASES if alias != "default"] == []


def test_the_router_reads_where_the_request_reads_and_writes_on_the_primary():
    router = replicas.ReplicaRouter()
    assert router.db_for_read(User) == "default"
    with reading_from("replica_0"):
        assert router.db_for_read(User) == "replica_0"
        assert router.db_for_write(User) == "default"
    assert router.db_for_read(User) == "default"
    assert router.allow_migrate("default", "groundmotion")
    assert not router.allow_migrate("replica_0", "groundmotion")
