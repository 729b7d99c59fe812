"""Products: datasets from PostGIS through the kernels and back, one transaction per output.

Every product streams points in chunks (binary COPY out), runs kernels, and writes through
binary COPY (groundmotion/storage/copy_in.py) inside the caller's transaction, with provenance.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from groundmotion.storage import copy_out

ProgressCallback = Callable[[float, str], None]
# A job reports progress about PROGRESS_STEPS times, not once per CHUNK_POINTS only (a 50,000-
# point track is one default chunk: its progress would jump from 0 to 1).
PROGRESS_STEPS = 10
MIN_STEP_POINTS = 5_000


def step_points(count: int) -> int:
    """Points per chunk for about PROGRESS_STEPS reports over `count` points, at least
    MIN_STEP_POINTS and at most copy_out.CHUNK_POINTS (read at each call)."""
    return min(copy_out.CHUNK_POINTS, max(MIN_STEP_POINTS, math.ceil(count / PROGRESS_STEPS)))


def no_progress(fraction: float, message: str) -> None:
    """The default progress sink (0..1 and a message)."""
