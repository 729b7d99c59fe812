"""LOG_FORMAT=json: one JSON object a line, a line per request, the request id on every line
logged while the request runs. In a child process, since the settings read LOG_FORMAT once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import database_url, free_port

ROOT = Path(__file__).resolve().parents[2]
# Requests through the whole middleware stack: a probe whose broker check fails and logs a
# warning, then a page, with and without a request id from the proxy.
REQUESTS = """
import django
django.setup()
from django.test import Client
client = Client()
print(client.get("/readyz", HTTP_X_REQUEST_ID="probe-17").status_code)
answer = client.get("/map/", HTTP_X_REQUEST_ID="bad id\\nwith a newline")
print(answer.status_code, answer["X-Request-ID"])
"""


def run_with(log_format: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "LOG_FORMAT": log_format,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
        "READYZ_CACHE_SECONDS": "0",
    }
    return subprocess.run(
        [sys.executable, "-c", REQUESTS],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db
def test_json_logs_are_one_object_a_line_with_the_request_id() -> None:
    done = run_with("json")
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    assert entries and all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    probe = [entry for entry in entries if entry["request_id"] == "probe-17"]
    assert {entry["logger"] for entry in probe} >= {"operations.checks", "operations.requests"}
    (probe_line,) = [entry for entry in probe if entry["logger"] == "operations.requests"]
    assert probe_line["path"] == "/readyz"
    assert probe_line["status"] == 503
    assert probe_line["route_kind"] == "operations"
    assert probe_line["duration_ms"] > 0
    assert probe_line["time"].endswith("+00:00")
    status, given_id = done.stdout.splitlines()[1].split()
    assert status == "200"
    page = [e for e in entries if e["logger"] == "operations.requests" and e["path"] == "/map/"]
    # The malformed id from outside was replaced by one of ours, which the response names.
    assert [entry["request_id"] for entry in page] == [given_id]
    assert len(given_id) == 32


@pytest.mark.django_db
def test_text_logs_stay_as_they_were() -> None:
    done = run_with("text")
    assert done.returncode == 0, done.stderr
    assert "readiness check redis failed" in done.stderr
    assert not any(line.startswith("{") for line in done.stderr.splitlines())
    # Requests are logged one a line only in JSON.
    assert "GET /map/" not in done.stderr


@pytest.mark.django_db
def test_an_unknown_log_format_is_refused_by_name() -> None:
    done = run_with("yaml")
    assert done.returncode != 0
    assert "LOG_FORMAT must be text or json" in done.stderr
