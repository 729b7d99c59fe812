"""bench/replicas: tile reads served by the primary alone, then through the read replica.

  BENCH_REPLICA_POINTS   points per track for make_demo (default 50,000: 10^5 in all)
  BENCH_REPLICA_SECONDS  seconds of wrk per run (default 10)
  BENCH_REPLICA_ROUNDS   rounds of the two runs, alternated (default 2)

A primary and its streaming hot standby of their own (scripts/cluster.sh start and
start-replica, with CLUSTER_DIR in a temporary folder; tests/project/replica_pair.py), loaded by
make_demo before the standby is made. gunicorn (2 sync workers, server-side tile cache off, so
every tile is a statement) serves the bench's fixed list of z11-16 tiles (bench/_tile_data.py),
loaded by wrk with 4 connections:
  replicas primary only     DATABASE_REPLICA_URLS empty: the primary renders every tile
  replicas via standby      the standby renders them (the router's probe asks the primary for
                            its WAL position every REPLICA_PROBE_SECONDS)
  replicas ratio            via standby / primary only (req/s)
Each line gives req/s, p50 and p95 ms, and the CPU seconds used during the run by the primary's
processes, the standby's and gunicorn's (from /proc). Everything here shares one machine's cores,
so the standby cannot add capacity: the ratio shows what the router and the standby cost or save
on one machine; a standby on its own machine adds its cores to the database's.
"""

from __future__ import annotations

import os
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.request import urlopen

from bench import _tile_data as data
from bench._tile_servers import run_wrk
from tests.project.replica_pair import replica_pair, served
from tests.services import descendants

PRIMARY_PORT, REPLICA_PORT, SERVER_PORT = 54344, 54345, 8113
CONNECTIONS = 4
# As deployed (DEBUG off: no query log), on plain HTTP, with no tile cache.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "bench-only",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "GROUNDMOTION_TILE_CACHE_SECONDS": "0",
}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and every living process below it, plus what its exited
    children used (cutime, cstime)."""
    total = 0.0
    for index, member in enumerate([pid, *descendants(pid)]):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime at 11, 12 after the name; cutime, cstime at 13, 14.
        ticks = int(fields[11]) + int(fields[12])
        if index == 0:
            ticks += int(fields[13]) + int(fields[14])
        total += ticks / TICKS
    return total


def postmaster(data_directory: Path) -> int:
    return int((data_directory / "postmaster.pid").read_text().splitlines()[0])


def warm_up(base: str, paths: list[str]) -> None:
    """Each worker's first tile imports and compiles what later ones reuse (15 s under load):
    enough requests at once to reach both workers, then a short wrk pass."""
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        list(pool.map(lambda path: urlopen(base + path, timeout=600).read(), paths[:8]))
    run_wrk(base, paths, CONNECTIONS, 3)


def measure(pair, paths: list[str], replica: bool, seconds: int, log: Path) -> dict:
    with served(pair, SERVER_PORT, log, workers=2, replica=replica, **PRODUCTION) as server:
        base = f"http://127.0.0.1:{SERVER_PORT}"
        warm_up(base, paths)
        processes = {
            "primary": postmaster(pair.directory / "pgdata"),
            "standby": postmaster(pair.directory / "pgdata-replica"),
            "gunicorn": server.pid,
        }
        before = {name: cpu_seconds(pid) for name, pid in processes.items()}
        result = run_wrk(base, paths, CONNECTIONS, seconds)
        result["cpu"] = {name: cpu_seconds(pid) - before[name] for name, pid in processes.items()}
    return result


def line(name: str, results: list[dict], seconds: int) -> str:
    rps = statistics.median(result["rps"] for result in results)
    p50 = statistics.median(result["p50"] for result in results)
    p95 = statistics.median(result["p95"] for result in results)
    cpu = {
        part: statistics.median(result["cpu"][part] for result in results)
        for part in ("primary", "standby", "gunicorn")
    }
    errors = sum(result["errors"] for result in results)
    shares = ", ".join(f"{part} {value / seconds:.2f}" for part, value in cpu.items())
    return (
        f"{name:<26}{rps:8.1f} req/s  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
        f"cores used: {shares}  errors {errors}"
    )


def main() -> None:
    points = int(os.environ.get("BENCH_REPLICA_POINTS", "50000"))
    seconds = int(os.environ.get("BENCH_REPLICA_SECONDS", "10"))
    rounds = int(os.environ.get("BENCH_REPLICA_ROUNDS", "2"))
    tiles = data.tile_list()
    paths = [data.tile_path(tile) for tile in tiles["mid"] + tiles["high"]]
    seed = ["manage.py", "make_demo", "--points", str(points)]
    print(f"replicas: make_demo {points} points per track, {len(paths)} tiles z11-16", flush=True)
    with replica_pair(PRIMARY_PORT, REPLICA_PORT, seed) as pair:
        log = pair.directory / "gunicorn.log"
        runs: dict[bool, list[dict]] = {False: [], True: []}
        for _ in range(rounds):
            for replica in (False, True):
                runs[replica].append(measure(pair, paths, replica, seconds, log))
        print(line("replicas primary only", runs[False], seconds))
        print(line("replicas via standby", runs[True], seconds))
        ratio = statistics.median(r["rps"] for r in runs[True]) / statistics.median(
            r["rps"] for r in runs[False]
        )
        print(f"replicas ratio            via standby / primary only {ratio:.2f} (req/s)")
        print(f"(machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f})")
        sys.stdout.flush()
