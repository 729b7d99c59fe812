"""Products: datasets from PostGIS through the kernels and back, one transaction per output.

Every product streams points in chunks (binary COPY out), runs kernels, and writes through
binary COPY (groundmotion/storage/copy_in.py) inside the caller's transaction, with provenance.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """The default progress sink (0..1 and a message)."""
