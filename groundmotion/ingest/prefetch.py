"""Parse and pack the next blocks in a child process while the database takes the current one.

Why a process and not a thread: the parser and the packing of COPY rows hold the GIL for part
of their time, and every time the COPY loop in the main thread came back from the socket it
waited for the GIL (up to the 5 ms switch interval): a 1M-point load spent more time in those
hand-offs than in PostgreSQL. A forked child shares nothing with the COPY loop but a pipe.

The child is forked (it inherits the open file and the parsed header) and never touches the
database. At most `depth` chunks wait in the pipe: memory stays bounded. It does inherit the
parent's database socket, so it must not outlive the parent: were the parent SIGKILLed, a live
child would keep the socket open, PostgreSQL would never see the client go, and the load's
transaction would hold its locks "idle in transaction" until someone killed the child. The
kernel kills it with its parent (prctl PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import queue
import signal
import traceback
from collections.abc import Iterator
from typing import TypeVar

Item = TypeVar("Item")
# How often the consumer checks that a silent child is still alive, seconds.
POLL_SECONDS = 1.0


def prefetch(items: Iterator[Item], depth: int = 2) -> Iterator[Item]:
    """Yield from `items`, produced ahead in a child process; its errors are re-raised here.

    `items` must not have started: the child runs it from the start.
    """
    context = multiprocessing.get_context("fork")
    buffer = context.Queue(maxsize=depth)
    worker = context.Process(
        target=_produce, args=(items, buffer, os.getpid()), name="ingest-parser"
    )
    worker.daemon = True
    worker.start()
    try:
        while True:
            kind, payload = _next(buffer, worker)
            if kind == "error":
                raise payload
            if kind == "done":
                return
            yield payload
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join()
        buffer.close()
        buffer.cancel_join_thread()


def _next(buffer: multiprocessing.Queue, worker: multiprocessing.Process) -> tuple[str, object]:
    while True:
        try:
            return buffer.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if not worker.is_alive():
                raise RuntimeError(f"the ingest parser process died ({worker.exitcode})") from None


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _produce(items: Iterator, buffer: multiprocessing.Queue, parent: int) -> None:
    die_with_parent(parent)
    try:
        for item in items:
            buffer.put(("item", item))
    except BaseException as error:  # handed to the consumer, re-raised there
        buffer.put(("error", _picklable(error)))
    else:
        buffer.put(("done", None))
    buffer.close()
    buffer.join_thread()


def _picklable(error: BaseException) -> BaseException:
    """The error itself when it survives pickling, else a RuntimeError with its traceback."""
    try:
        multiprocessing.reduction.ForkingPickler.dumps(error)
    except Exception:
        text = "".join(traceback.format_exception(error))
        return RuntimeError(f"ingest parser failed:\n{text}")
    return error
