"""Parse the next block while the database takes the current one.

The pandas C parser releases the GIL for most of its work and the COPY wait does too, so on
two cores a reader thread keeps PostgreSQL and the parser busy at the same time. At most
`depth` parsed chunks wait in the queue: memory stays bounded.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

Item = TypeVar("Item")
_DONE = object()


def prefetch(items: Iterator[Item], depth: int = 2) -> Iterator[Item]:
    """Yield from `items`, produced one step ahead in a thread; its errors are re-raised here."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put((item, None))
        except BaseException as error:  # handed to the consumer, re-raised there
            buffer.put((None, error))
            return
        buffer.put((_DONE, None))

    worker = threading.Thread(target=produce, name="ingest-parser", daemon=True)
    worker.start()
    try:
        while True:
            item, error = buffer.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                buffer.get(timeout=0.1)
        worker.join()
