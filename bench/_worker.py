"""A private Redis and a real `celery -A config worker` for benchmarks, and the worker's memory.

The Redis, the worker's readiness and the /proc walk are tests/services.py's, shared with the
fault suite; here a worker is started as the service starts it (prefork pool, one child),
logging to a file, and its pool children's resident memory is read while a job runs.
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

from tests.services import Worker, descendants, redis_server

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A throwaway redis-server in a temporary directory; yields its URL."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-redis-") as directory,
        redis_server(Path(directory)) as url,
    ):
        yield url


@contextlib.contextmanager
def celery_worker(env: dict[str, str], log: Path) -> Iterator[Worker]:
    """`celery -A config worker --pool=prefork --concurrency=1`, ready to take tasks."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=prefork",
        "--concurrency=1",
        "--loglevel=INFO",
        f"--logfile={log}",
        "--hostname=bench-exports@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    # Its own output (the warning about running as root) goes beside the log.
    with open(log.with_suffix(".out"), "wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    worker = Worker(process, log)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def rss_bytes(pid: int) -> int:
    """VmRSS of a process, 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """The summed VmRSS of a process's descendants (the pool children), every `interval` s,
    in a thread, from start() to stop()."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self.children: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def _run(self) -> None:
        while True:
            pids = descendants(self.pid)
            self.children.update(pids)
            self.samples.append((time.perf_counter(), sum(rss_bytes(pid) for pid in pids)))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def start(self) -> int:
        return self.samples[0][1] if self.samples else 0

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)

    @property
    def end(self) -> int:
        return self.samples[-1][1] if self.samples else 0


def environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "DEBUG": "true", **extra}
