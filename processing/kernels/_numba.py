"""The one place numba is imported: decorator options are set here once (for the kernels
here, and for the byte parsers and formatters of groundmotion's ingest and exports).

`fastmath=True` would drop NaN checks (gappy series are NaN-marked), so only the flags that
keep NaN semantics are on: reassociation, contraction to FMA and approximate reciprocals.
NUMBA_DISABLE_JIT=1 still works for coverage runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import njit, prange

FASTMATH_FLAGS = {"reassoc", "contract", "arcp"}

__all__ = ["exact_kernel", "parallel_kernel", "prange", "serial_kernel"]


def parallel_kernel(function: Callable[..., Any]) -> Callable[..., Any]:
    """Compile a kernel whose outer loop is a prange over points (or cells)."""
    return njit(cache=True, parallel=True, fastmath=FASTMATH_FLAGS, nogil=True)(function)


def serial_kernel(function: Callable[..., Any]) -> Callable[..., Any]:
    """Compile a helper called from inside parallel kernels."""
    return njit(cache=True, fastmath=FASTMATH_FLAGS, nogil=True)(function)


def exact_kernel(*, inline: bool = False, parallel: bool = False) -> Callable[..., Any]:
    """Compile code whose arithmetic must stay exact (text parsers and formatters): no
    fastmath flags, since reassociation would change correctly rounded decimal conversions."""
    options: dict[str, Any] = {"cache": True, "nogil": True, "parallel": parallel}
    if inline:
        options["inline"] = "always"
    return njit(**options)
