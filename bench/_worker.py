"""A private Redis and a real `celery -A config worker` for benchmarks, and the worker's memory.

Like tests/faults/conftest.py: redis-server on a free port with no persistence, and a worker
started as the service starts it (prefork pool, one child), logging to a file; its pool
children's resident memory is read from /proc while a job runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server; yields its URL."""
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory:
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)
            else:
                raise RuntimeError("redis-server did not start")
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait(10)


class Worker:
    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.log.exists() and "ready." in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.2)
        raise RuntimeError("the worker did not start")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@contextlib.contextmanager
def celery_worker(env: dict[str, str], log: Path) -> Iterator[Worker]:
    """`celery -A config worker --pool=prefork --concurrency=1`, ready to take tasks."""
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
               "--concurrency=1", "--loglevel=INFO", f"--logfile={log}",
               "--hostname=bench-exports@%h", "--without-gossip", "--without-mingle"]  # fmt: skip
    # Its own output (the warning about running as root) goes beside the log.
    with open(log.with_suffix(".out"), "wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    worker = Worker(process, log)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def descendants(pid: int) -> list[int]:
    """Every living process below pid (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


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
