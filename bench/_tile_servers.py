"""Servers and load generators for bench/tiles: gunicorn (ours, V), uvicorn (TiPg), wrk, pgbench."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / "var" / "bench-venv"

# wrk: each request picks a path uniformly at random from the list, as pgbench's
# random(1, count) does for F; done() prints a JSON summary. Walking the list in order would
# measure only its first tiles (a few seconds at c=1 cover ~100 of 800: all z13, the heaviest
# zoom) against pgbench's sample of every zoom. Every request accepts gzip, as browsers do.
WRK_SCRIPT = """
wrk.headers["Accept-Encoding"] = "gzip"
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local threads = {}
-- Any answer but 200 is an error (a 301 to https or a 404 would otherwise count as served).
not_ok = 0
function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end
function setup(thread)
  thread:set("seed", 7919 * (#threads + 1))
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(seed)
end
function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
function done(summary, latency, requests)
  local total_not_ok = 0
  for _, thread in ipairs(threads) do total_not_ok = total_not_ok + thread:get("not_ok") end
  io.write(string.format('WRK {"requests": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"errors": %%d, "non2xx": %%d, "p50": %%d, "p95": %%d, "p99": %%d}\\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    total_not_ok, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def wait_until_up(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"server at {url} did not come up")


@contextlib.contextmanager
def server(command: list[str], environment: dict[str, str], probe: str) -> Iterator[None]:
    """Run a server in its own process group; stop that group (and only it) afterwards."""
    log = open(ROOT / "var" / "log" / "bench-server.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        command,
        env={**os.environ, **environment},
        cwd=ROOT,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        wait_until_up(probe)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def run_wrk(base_url: str, paths: list[str], connections: int, seconds: int) -> dict:
    """Latencies in ms (p50/p95/p99), requests per second, bytes and errors."""
    with tempfile.TemporaryDirectory() as folder:
        path_file = Path(folder) / "paths.txt"
        path_file.write_text("\n".join(paths) + "\n")
        script = Path(folder) / "paths.lua"
        script.write_text(WRK_SCRIPT % {"paths": path_file})
        threads = min(connections, 2)
        output = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                base_url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    summary = json.loads(output.split("WRK ", 1)[1].splitlines()[0])
    seconds_run = summary["duration_us"] / 1e6
    return {
        "rps": summary["requests"] / seconds_run,
        "p50": summary["p50"] / 1000,
        "p95": summary["p95"] / 1000,
        "p99": summary["p99"] / 1000,
        "errors": summary["errors"] + summary["non2xx"],
        "requests": summary["requests"],
    }


def run_pgbench(database_url: str, tile_class: str, count: int, clients: int, seconds: int) -> dict:
    """The tile SQL itself through pgbench (simple protocol): the PostGIS floor.

    Each transaction looks its tile's SQL up by number (a primary-key read) and runs it.
    """
    script = (
        f"\\set i random(1, {count})\n"
        "SELECT sql AS tile_sql FROM bench_tile_sql"
        f" WHERE class = '{tile_class}' AND i = :i \\gset\n"
        ":tile_sql\n"
    )
    match = re.match(
        r"\w+://(?P<user>[^@]+)@(?P<host>[^:]+):(?P<port>\d+)/(?P<name>\w+)", database_url
    )
    with tempfile.TemporaryDirectory() as folder:
        script_path = Path(folder) / "tile.sql"
        script_path.write_text(script)
        subprocess.run(
            [
                "pgbench",
                "-n",
                "-M",
                "simple",
                "-f",
                str(script_path),
                "-c",
                str(clients),
                "-j",
                str(min(clients, 2)),
                "-T",
                str(seconds),
                "-l",
                "--log-prefix",
                str(Path(folder) / "log"),
                "-h",
                match["host"],
                "-p",
                match["port"],
                "-U",
                match["user"],
                match["name"],
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=folder,
        )
        latencies = []
        for log in Path(folder).glob("log*"):
            rows = np.loadtxt(log, usecols=(2,), ndmin=1)
            latencies.append(rows)
    microseconds = np.concatenate(latencies)
    p50, p95, p99 = np.percentile(microseconds, [50, 95, 99]) / 1000
    return {
        "rps": len(microseconds) / seconds,
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "errors": 0,
        "requests": len(microseconds),
    }
