"""/healthz and /readyz: the process, then the database, replicas, broker and worker.

Failures are real: a replica alias and a broker pointed at closed ports, a Redis with no worker
behind it, and a real worker for the all-ready case.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from operations.checks import readiness
from tests.services import Worker, database_url, free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "replica-secret-pw"


@pytest.fixture(autouse=True)
def fresh_checks(settings) -> None:
    # Every probe here runs its checks: none answered from the previous test's results.
    settings.READYZ_CACHE_SECONDS = 0
    readiness.forget()


def readyz(client: Client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response["Cache-Control"].startswith("max-age=0")
    return response.status_code, response.json()


def use_broker(monkeypatch, settings, url: str) -> None:
    """Point the readiness checks at this broker: the setting, and the environment variable
    Celery reads before its own settings (the Makefile exports it for the test run)."""
    settings.CELERY_BROKER_URL = url
    monkeypatch.setenv("CELERY_BROKER_URL", url)


def test_healthz_answers_without_the_database_a_host_or_https(settings) -> None:
    # No `db` fixture: pytest-django fails any query this test would make.
    settings.ALLOWED_HOSTS = ["maps.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/healthz", HTTP_HOST="10.0.3.7:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_refuses_other_methods() -> None:
    assert Client().post("/healthz").status_code == 405


@pytest.mark.django_db
def test_readyz_names_a_replica_that_is_down_and_hides_its_address(monkeypatch, settings) -> None:
    port = free_port()
    replica = {**django_settings.DATABASES["default"], "PORT": port, "PASSWORD": PASSWORD}
    monkeypatch.setitem(django_settings.DATABASES, "replica_0", replica)
    use_broker(monkeypatch, settings, f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")
    status, body = readyz(Client())
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["replica_0"]["status"] == "failed"
    assert body["checks"]["replica_0"]["reason"] == "connection refused"
    text = str(body)
    assert PASSWORD not in text and str(port) not in text and "127.0.0.1" not in text


@pytest.mark.django_db
def test_readyz_gives_up_on_a_replica_that_never_answers(monkeypatch, settings) -> None:
    # A listening socket nobody serves: the kernel completes the TCP handshake, then silence.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        replica = {**django_settings.DATABASES["default"], "PORT": port}
        monkeypatch.setitem(django_settings.DATABASES, "replica_0", replica)
        use_broker(monkeypatch, settings, f"redis://127.0.0.1:{free_port()}/0")
        started = time.monotonic()
        status, body = readyz(Client())
        assert time.monotonic() - started < 10
    assert status == 503
    assert body["checks"]["replica_0"]["reason"] == "timed out"
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_without_replicas_has_no_replica_check(monkeypatch, settings) -> None:
    use_broker(monkeypatch, settings, f"redis://127.0.0.1:{free_port()}/0")
    _, body = readyz(Client())
    assert set(body["checks"]) == {"database", "redis", "worker"}


@pytest.mark.django_db
def test_readyz_names_the_broker_when_redis_is_down(monkeypatch, settings) -> None:
    use_broker(monkeypatch, settings, f"redis://127.0.0.1:{free_port()}/0")
    status, body = readyz(Client())
    assert status == 503
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["reason"] == "connection refused"
    worker = body["checks"]["worker"]
    assert (worker["status"], worker["reason"]) == ("failed", "broker unreachable")


@pytest.mark.worker
@pytest.mark.django_db
def test_readyz_names_the_worker_when_none_answers(monkeypatch, redis_url, settings) -> None:
    use_broker(monkeypatch, settings, redis_url)
    status, body = readyz(Client())
    assert status == 503
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["worker"]["status"] == "failed"
    assert body["checks"]["worker"]["reason"] == "no worker answered"
    assert body["checks"]["worker"]["ms"] < 3000


@pytest.fixture
def worker(redis_url, tmp_path):
    log = tmp_path / "worker.log"
    environment = {**os.environ, "CELERY_BROKER_URL": redis_url, "DATABASE_URL": database_url()}
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo"]
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "--loglevel=INFO", "--without-gossip", "--without-mingle"],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    started = Worker(process, log)
    started.wait_ready()
    yield redis_url
    started.stop()


@pytest.mark.worker
@pytest.mark.django_db
def test_readyz_is_ok_with_the_database_redis_and_a_worker(monkeypatch, worker, settings) -> None:
    use_broker(monkeypatch, settings, worker)
    # A worker that logged "ready" may still take longer than the 1 s ping on a loaded
    # machine: a readiness probe asks again, and so does this test, for up to 15 s.
    deadline = time.monotonic() + 15
    status, body = readyz(Client())
    while status != 200 and time.monotonic() < deadline:
        time.sleep(1.1)  # past READYZ_CACHE_SECONDS, so the checks run again
        status, body = readyz(Client())
    assert status == 200, body
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "redis": "ok",
        "worker": "ok",
    }
    assert body["checks"]["worker"]["workers"] == 1


@pytest.mark.django_db
def test_readyz_keeps_its_results_for_the_cache_seconds(monkeypatch, settings) -> None:
    use_broker(monkeypatch, settings, f"redis://127.0.0.1:{free_port()}/0")
    settings.READYZ_CACHE_SECONDS = 60
    client = Client()
    first = client.get("/readyz").json()
    use_broker(monkeypatch, settings, "redis://127.0.0.1:1/0")
    assert client.get("/readyz").json() == first
