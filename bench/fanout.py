"""A fit of 10^6 points as one process, and fanned out over one and two Celery workers.

Usage: .venv/bin/python -m bench fanout   # BENCH_FANOUT_POINTS (1,000,000), BENCH_FANOUT_YEARS (2)

`make_demo` into the scratch database bench_fanout, a private redis-server, then the same fit
job four times: one worker with fan-out off (the single-process run, the peer), one worker
with fan-out on (the cost of chunking), two workers w1 and w2 (prefork, one pool process
each), and the single-process run again (the other jobs' load drifts; the peer is the mean).
Wall time is the job's created_at -> finished_at. On 2 cores the workers and PostgreSQL share
the CPUs, so the CPU time (user + sys) of the worker processes and of the backends connected
to bench_fanout is sampled from /proc as well; a hash of every fitted value checks that the
runs wrote the same bits.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from bench._scratch import ROOT, Runner, scratch_database
from bench._worker import environment, private_redis
from tests.services import Worker, descendants

POINTS = int(os.environ.get("BENCH_FANOUT_POINTS", "1000000"))
YEARS = os.environ.get("BENCH_FANOUT_YEARS", "2")
CHUNK_POINTS = int(os.environ.get("BENCH_FANOUT_CHUNK_POINTS", "100000"))
SLUG = "demo-dax-asc-l2a"
TICKS = os.sysconf("SC_CLK_TCK")
FITTED = (
    "velocity, velocity_std, acceleration, acceleration_std, seasonality, seasonality_std,"
    " rmse, temporal_coherence"
)


def cpu_seconds(pid: int) -> float:
    """user + sys of one process so far, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


class CpuSampler:
    """The CPU seconds of the workers (and their pool children) and of the database's
    backends, the last value seen of each process, sampled every `interval` s."""

    def __init__(self, url: str, workers: list[int], interval: float = 0.2) -> None:
        self.url, self.workers, self.interval = url, workers, interval
        self.seen: dict[str, dict[int, float]] = {"workers": {}, "postgres": {}}
        self.start: dict[str, dict[int, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="cpu-sampler")

    def _sample(self, database: psycopg.Connection) -> None:
        backends = database.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
        groups = {
            "workers": [p for worker in self.workers for p in [worker, *descendants(worker)]],
            "postgres": [row[0] for row in backends],
        }
        for group, pids in groups.items():
            for pid in pids:
                value = cpu_seconds(pid)
                if value:
                    self.seen[group][pid] = max(value, self.seen[group].get(pid, 0.0))

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as database:
            self._sample(database)
            self.start = {group: dict(values) for group, values in self.seen.items()}
            while not self._stop.wait(self.interval):
                self._sample(database)
            self._sample(database)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        while not self.start:
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def used(self, group: str) -> float:
        before = self.start.get(group, {})
        return sum(value - before.get(pid, 0.0) for pid, value in self.seen[group].items())


@contextlib.contextmanager
def workers(names: list[str], env: dict[str, str], folder: Path) -> Iterator[list[Worker]]:
    started = []
    try:
        for name in names:
            log = folder / f"{name}.log"
            command = [
                *(sys.executable, "-m", "celery", "-A", "config", "worker"),
                *("--pool=prefork", "--concurrency=1", "--loglevel=INFO", f"--logfile={log}"),
                *(f"--hostname={name}@%h", "--without-gossip", "--without-mingle"),
            ]
            with open(log.with_suffix(".out"), "wb") as output:
                process = subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
                )
            started.append(Worker(process, log))
        for worker in started:
            worker.wait_ready()
        yield started
    finally:
        for worker in started:
            worker.stop()


QUEUE = (
    "from groundmotion.models import ProcessingJob\n"
    "from processing.tasks import run_job\n"
    f"job = ProcessingJob.objects.create(kind='fit', parameters={{'dataset': '{SLUG}'}})\n"
    "run_job.delay(job.pk)\n"
    "print(job.pk)\n"
)


def run_fit(run: Runner, env: dict[str, str], pool: list[Worker]) -> dict:
    url = run.url.replace("postgis://", "postgresql://")
    run.sql(
        f"UPDATE groundmotion_measurementpoint SET velocity = NULL WHERE dataset_id ="
        f" (SELECT id FROM groundmotion_dataset WHERE slug = '{SLUG}')"
    )
    with CpuSampler(url, [worker.pid for worker in pool]) as cpu:
        queued = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", QUEUE],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        job_id = int(queued.stdout.split()[-1])
        while True:
            state, message, seconds = run.sql(
                "SELECT state, message, extract(epoch FROM finished_at - created_at)"
                f" FROM groundmotion_processingjob WHERE id = {job_id}"
            )
            if state in ("succeeded", "failed"):
                break
            if not all(worker.alive() for worker in pool):
                raise RuntimeError("a worker died")
            time.sleep(0.2)
    if state != "succeeded":
        raise RuntimeError(f"the fit failed: {message}")
    (chunks,) = run.sql(
        "SELECT count(*) FROM processing_jobchunk c JOIN processing_fanout f"
        f" ON f.id = c.fanout_id WHERE f.job_id = {job_id}"
    )
    (digest,) = run.sql(
        f"SELECT md5(string_agg(concat_ws(',', {FITTED}), ';' ORDER BY id))"
        " FROM groundmotion_measurementpoint WHERE dataset_id ="
        f" (SELECT id FROM groundmotion_dataset WHERE slug = '{SLUG}')"
    )
    return {
        "wall": float(seconds),
        "workers_cpu": cpu.used("workers"),
        "postgres_cpu": cpu.used("postgres"),
        "chunks": chunks,
        "digest": digest,
    }


def describe(name: str, result: dict) -> str:
    return (
        f"{name}: {result['wall']:.1f} s wall, CPU workers {result['workers_cpu']:.1f} s +"
        f" postgres {result['postgres_cpu']:.1f} s, {result['chunks']} chunks"
    )


def main() -> None:
    with scratch_database("bench_fanout") as run, private_redis() as broker:
        started = time.perf_counter()
        run(["make_demo", "--points", str(POINTS), "--years", YEARS])
        (count, dates) = run.sql(
            "SELECT point_count, cardinality(acquisition_dates) FROM groundmotion_dataset"
            f" WHERE slug = '{SLUG}'"
        )
        print(
            f"{SLUG}: {count:,} points x {dates} dates"
            f" (make_demo {time.perf_counter() - started:.0f} s);"
            f" {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        base = environment(DATABASE_URL=run.url, CELERY_BROKER_URL=broker)
        fanned = {
            **base,
            "GROUNDMOTION_JOB_FANOUT_POINTS": "1",
            "GROUNDMOTION_JOB_CHUNK_POINTS": str(CHUNK_POINTS),
        }
        results = {}
        with tempfile.TemporaryDirectory(prefix="bench-fanout-") as directory:
            folder = Path(directory)
            single_env = {**base, "GROUNDMOTION_JOB_FANOUT_POINTS": "0"}
            with workers(["single"], single_env, folder) as pool:
                results["single"] = run_fit(run, single_env, pool)
            print(describe("one process (fan-out off)", results["single"]), flush=True)
            with workers(["w1"], fanned, folder) as pool:
                results["one"] = run_fit(run, fanned, pool)
            print(describe("fanned out, 1 worker", results["one"]), flush=True)
            with workers(["w1", "w2"], fanned, folder) as pool:
                results["two"] = run_fit(run, fanned, pool)
            print(describe("fanned out, 2 workers", results["two"]), flush=True)
            # Again at the end: the other jobs' load drifts, and this shows by how much.
            with workers(["single"], single_env, folder) as pool:
                results["again"] = run_fit(run, single_env, pool)
            print(describe("one process again", results["again"]), flush=True)
        first, one, two, again = (results[k] for k in ("single", "one", "two", "again"))
        single = {key: (first[key] + again[key]) / 2 for key in ("wall", "workers_cpu")}
        single["postgres_cpu"] = (first["postgres_cpu"] + again["postgres_cpu"]) / 2
        identical = first["digest"] == one["digest"] == two["digest"] == again["digest"]

        def cpu(result: dict) -> float:
            return result["workers_cpu"] + result["postgres_cpu"]

        print(
            f"fit {count:,} points (one process: mean of both runs): 2 workers / 1 process"
            f" wall {single['wall'] / two['wall']:.2f}x"
            f" faster, 2 workers / 1 worker {one['wall'] / two['wall']:.2f}x, fan-out overhead"
            f" on 1 worker {one['wall'] / single['wall']:.2f}x the wall time; CPU (workers +"
            f" postgres) {cpu(single):.1f} s, {cpu(one):.1f} s, {cpu(two):.1f} s; same bits in"
            f" all four: {'yes' if identical else 'NO'}; load average now {os.getloadavg()[0]:.1f}"
        )
