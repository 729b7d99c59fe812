"""/metrics: requests by route kind, tile cache tiers, figures read from the database, who
may scrape, and counts summed over gunicorn's worker processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from groundmotion import tile_views
from groundmotion.models import ProcessingJob, Visibility
from tests.factories import make_dataset
from tests.mvt import tile_of
from tests.services import database_url

ROOT = Path(__file__).resolve().parents[2]
# One of the web ports given to this test file (8131-8139).
GUNICORN_PORT = 8133
Samples = dict[tuple[str, frozenset], float]


def scrape(client: Client, **headers) -> Samples:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return parse(response.content.decode())


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, kind: str, status: str) -> float:
    return value(samples, "groundmotion_http_requests_total", kind=kind, status=status)


def lookups(samples: Samples, tier: str, result: str) -> float:
    return value(samples, "groundmotion_tile_cache_lookups_total", tier=tier, result=result)


@pytest.mark.django_db
def test_a_tile_request_is_counted_with_its_cache_tiers(monkeypatch) -> None:
    make_dataset("metrics-tiles", lon=[-1.05, -1.04], lat=[43.71, 43.72])
    zoom, x, y = tile_of(-1.05, 43.71, 14)
    client = Client()
    before = scrape(client)
    tile = f"/tiles/metrics-tiles/{zoom}/{x}/{y}.pbf"
    assert client.get(tile).status_code == 200  # rendered: both tiers miss
    assert client.get(tile).status_code == 200  # from this process's LRU
    monkeypatch.setattr(tile_views, "local_tiles", tile_views.LocalTiles(1 << 20))
    assert client.get(tile).status_code == 200  # from the shared cache
    assert client.get("/tiles/no-such-dataset/14/0/0.pbf").status_code == 404
    after = scrape(client)
    assert requests(after, "tiles", "2xx") - requests(before, "tiles", "2xx") == 3
    assert requests(after, "tiles", "4xx") - requests(before, "tiles", "4xx") == 1
    changes = {
        (tier, result): lookups(after, tier, result) - lookups(before, tier, result)
        for tier in ("local", "shared")
        for result in ("hit", "miss")
    }
    assert changes == {
        ("local", "hit"): 1,
        ("local", "miss"): 2,
        ("shared", "hit"): 1,
        ("shared", "miss"): 1,
    }
    count = "groundmotion_http_request_duration_seconds_count"
    assert value(after, count, kind="tiles") - value(before, count, kind="tiles") == 4


@pytest.mark.django_db
def test_requests_are_labelled_by_route_kind_not_by_path() -> None:
    client = Client()
    before = scrape(client)
    client.get("/api/datasets/")
    client.get("/api/points/123456789/")
    client.get("/ogc/")
    client.get("/healthz")
    after = scrape(client)
    assert requests(after, "api", "2xx") - requests(before, "api", "2xx") == 1
    assert requests(after, "api", "4xx") - requests(before, "api", "4xx") == 1
    assert requests(after, "ogc", "2xx") - requests(before, "ogc", "2xx") == 1
    assert requests(after, "operations", "2xx") - requests(before, "operations", "2xx") >= 2
    paths = {dict(labels).get("path") for _, labels in after}
    assert paths == {None}
    assert "123456789" not in client.get("/metrics").content.decode()


@pytest.mark.django_db
def test_jobs_and_datasets_are_read_from_the_database_without_slugs() -> None:
    now = timezone.now()
    for state, seconds in (("succeeded", 30), ("succeeded", 90), ("failed", 4000)):
        ProcessingJob.objects.create(
            kind="fit",
            state=state,
            started_at=now - timedelta(seconds=seconds),
            finished_at=now,
        )
    ProcessingJob.objects.create(kind="export")
    make_dataset("secret-track", visibility=Visibility.RESTRICTED, lon=[-1.0] * 3, lat=[43.7] * 3)
    samples = scrape(Client())
    assert value(samples, "groundmotion_database_scrape_ok") == 1
    histogram = "groundmotion_job_duration_seconds"
    fit_ok = {"kind": "fit", "state": "succeeded"}
    assert value(samples, f"{histogram}_count", **fit_ok) == 2
    assert value(samples, f"{histogram}_sum", **fit_ok) == pytest.approx(120)
    assert value(samples, f"{histogram}_bucket", le="60.0", **fit_ok) == 1
    assert value(samples, f"{histogram}_bucket", le="300.0", **fit_ok) == 2
    assert value(samples, f"{histogram}_count", kind="fit", state="failed") == 1
    assert value(samples, "groundmotion_jobs", kind="export", state="queued") == 1
    assert value(samples, "groundmotion_job_queue_oldest_seconds") >= 0
    restricted = {"level": "l2a", "status": "published", "visibility": "restricted"}
    assert value(samples, "groundmotion_points", **restricted) == 3
    assert value(samples, "groundmotion_datasets", **restricted) == 1
    assert value(samples, "groundmotion_ingested_points_last_hour") == 3
    assert "secret-track" not in Client().get("/metrics").content.decode()


@pytest.mark.django_db
def test_metrics_are_refused_off_loopback_and_behind_a_proxy() -> None:
    client = Client()
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="192.0.2.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


@pytest.mark.django_db
def test_a_metrics_token_is_required_of_everyone_once_set(settings) -> None:
    settings.METRICS_TOKEN = "scrape-token-1"
    client = Client()
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    far = {"REMOTE_ADDR": "192.0.2.7", "HTTP_AUTHORIZATION": "Bearer scrape-token-1"}
    assert client.get("/metrics", **far).status_code == 200


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("gunicorn did not start")


def get(path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{GUNICORN_PORT}{path}", timeout=30) as answer:
        return answer.read()


@pytest.mark.django_db
def test_counts_are_summed_over_gunicorn_workers(tmp_path) -> None:
    (tmp_path / "multiproc").mkdir()
    access_log = tmp_path / "access.log"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "multiproc"),
    }
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "config.wsgi", f"-b127.0.0.1:{GUNICORN_PORT}"),
            *("-w2", f"--access-logfile={access_log}", "--access-logformat=%(p)s %(U)s"),
        ],
        cwd=ROOT,
        env=environment,
    )
    try:
        wait_for_port(GUNICORN_PORT, server)
        sent = 0
        # Until both workers have answered some (the kernel hands connections to either).
        while sent < 400 and (sent == 0 or len(serving_pids(access_log)) < 2):
            for _ in range(20):
                assert get("/healthz") == b'{"status": "ok"}'
            sent += 20
        assert len(serving_pids(access_log)) == 2
        for scrapes in range(4):
            # A scrape is counted once answered: the earlier scrapes, not itself.
            samples = parse(get("/metrics").decode())
            assert requests(samples, "operations", "2xx") == sent + scrapes
    finally:
        server.terminate()
        server.wait(30)


def serving_pids(access_log: Path) -> set[str]:
    time.sleep(0.1)  # gunicorn writes the access line after the response
    lines = access_log.read_text().splitlines() if access_log.exists() else []
    return {line.split()[0] for line in lines if line.endswith("/healthz")}
