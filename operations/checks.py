"""What /readyz checks: the database, each replica, the broker and a worker.

Each check has a short bound of its own (a connect timeout of 2 s, libpq's least; a 1 s
statement timeout; 1 s for Redis and the worker ping), and the database checks run beside the
broker's, so a probe answers within about 2 s whatever is down. A failure's reason is a short
phrase ("connection refused", "no worker answered"): the body is public, so it never carries a
URL, a host or a password; the full error goes to the log.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypedDict

import psycopg
import redis
from celery import Celery
from django.conf import settings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2
STATEMENT_TIMEOUT_MS = 1000
BROKER_TIMEOUT_S = 1.0
WORKER_TIMEOUT_S = 1.0
# Words of a driver's error message and the reason /readyz gives for it, first match first.
REASONS = (
    (("canceling statement", "statement timeout"), "statement timeout"),
    (("timeout", "timed out"), "timed out"),
    (("refused",), "connection refused"),
    (("authentication", "password", "noauth", "no password"), "authentication failed"),
    (("does not exist",), "database does not exist"),
    (("name or service not known", "could not translate host"), "unknown host"),
    (("too many clients", "too many connections"), "too many connections"),
    (("recovery", "read-only", "readonly"), "read-only or in recovery"),
)


class CheckResult(TypedDict, total=False):
    status: str  # "ok" or "failed"
    reason: str
    ms: float
    workers: int


def database_aliases() -> list[str]:
    """default, then every alias whose name starts with "replica" (none without replicas)."""
    return ["default", *sorted(a for a in settings.DATABASES if a.startswith("replica"))]


def connection_params(alias: str) -> dict[str, Any]:
    """libpq parameters of a DATABASES entry, read from settings at each call (a probe of
    its own, never Django's connection of the request or its state)."""
    entry = settings.DATABASES[alias]
    params = {
        "dbname": entry.get("NAME"),
        "user": entry.get("USER"),
        "password": entry.get("PASSWORD"),
        "host": entry.get("HOST"),
        "port": entry.get("PORT"),
        **{k: v for k, v in entry.get("OPTIONS", {}).items() if k.startswith("ssl")},
    }
    return {key: value for key, value in params.items() if value not in (None, "")}


def check_database(alias: str) -> None:
    with psycopg.connect(
        **connection_params(alias),
        connect_timeout=CONNECT_TIMEOUT_S,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        autocommit=True,
    ) as probe:
        probe.execute("SELECT 1").fetchone()


def check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        client = redis.Redis.from_url(
            url, socket_timeout=BROKER_TIMEOUT_S, socket_connect_timeout=BROKER_TIMEOUT_S
        )
        try:
            client.ping()
        finally:
            client.close()
        return
    with probe_app(url).connection_for_write(connect_timeout=BROKER_TIMEOUT_S) as broker:
        broker.ensure_connection(max_retries=1)


@functools.lru_cache(maxsize=4)
def probe_app(url: str) -> Celery:
    """A Celery app of this broker: the control mailbox publishes through its app's own
    producer pool, which the project app fixes at its first use. (Celery prefers the
    CELERY_BROKER_URL environment variable to `broker`; settings read it too.)"""
    return Celery("readiness", broker=url, set_as_current=False)


def check_worker() -> CheckResult:
    app = probe_app(settings.CELERY_BROKER_URL)
    with app.connection_for_write(connect_timeout=BROKER_TIMEOUT_S) as broker:
        replies = app.control.ping(timeout=WORKER_TIMEOUT_S, connection=broker)
    if not replies:
        return {"status": "failed", "reason": "no worker answered"}
    return {"status": "ok", "workers": len(replies)}


def reason_of(error: BaseException) -> str:
    """A phrase of a fixed vocabulary for the error, else its class name: driver messages name
    hosts, ports and sometimes users, which the public body must not."""
    text = str(error).lower()
    for words, reason in REASONS:
        if any(word in text for word in words):
            return reason
    return type(error).__name__


def timed(name: str, check: Callable[[], CheckResult | None]) -> CheckResult:
    started = time.perf_counter()
    try:
        result = check() or {"status": "ok"}
    except Exception as error:
        logger.warning("readiness check %s failed: %s", name, error)
        result = {"status": "failed", "reason": reason_of(error)}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def broker_and_worker() -> dict[str, CheckResult]:
    """The broker, then a worker through it; no ping while the broker is down (it would
    wait on reconnections)."""
    broker = timed("redis", check_broker)
    if broker["status"] != "ok":
        return {"redis": broker, "worker": {"status": "failed", "reason": "broker unreachable"}}
    return {"redis": broker, "worker": timed("worker", check_worker)}


def run_checks() -> dict[str, CheckResult]:
    aliases = database_aliases()
    with ThreadPoolExecutor(max_workers=len(aliases) + 1) as pool:

        def submit(function: Callable, *args: object) -> Future:
            # In a copy of this context: the checks' log lines carry the request's id.
            return pool.submit(contextvars.copy_context().run, function, *args)

        chain = submit(broker_and_worker)
        databases = [
            submit(timed, alias, lambda alias=alias: check_database(alias)) for alias in aliases
        ]
        results = {
            ("database" if alias == "default" else alias): future.result()
            for alias, future in zip(aliases, databases, strict=True)
        }
        results.update(chain.result())
    return results


class Readiness:
    """The checks' last results, kept READYZ_CACHE_SECONDS so that frequent or concurrent
    probes (one per load balancer and per pod) cost one run; the lock makes concurrent probes
    wait for the run under way rather than start their own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.results: dict[str, CheckResult] = {}
        self.checked_at = float("-inf")

    def current(self) -> dict[str, CheckResult]:
        keep = getattr(settings, "READYZ_CACHE_SECONDS", 1.0)
        with self.lock:
            if time.monotonic() - self.checked_at >= keep:
                self.results = run_checks()
                self.checked_at = time.monotonic()
            return self.results

    def forget(self) -> None:
        with self.lock:
            self.checked_at = float("-inf")


readiness = Readiness()
