"""The one place numba is imported: decorator options are set here once.

`fastmath=True` would drop NaN checks (gappy series are NaN-marked), so only the flags that
keep NaN semantics are on: reassociation, contraction to FMA and approximate reciprocals.
NUMBA_DISABLE_JIT=1 still works for coverage runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import njit, prange

FASTMATH_FLAGS = {"reassoc", "contract", "arcp"}

__all__ = ["parallel_kernel", "prange", "serial_kernel"]


def parallel_kernel(function: Callable[..., Any]) -> Callable[..., Any]:
    """Compile a kernel whose outer loop is a prange over points (or cells)."""
    return njit(cache=True, parallel=True, fastmath=FASTMATH_FLAGS, nogil=True)(function)


def serial_kernel(function: Callable[..., Any]) -> Callable[..., Any]:
    """Compile a helper called from inside parallel kernels."""
    return njit(cache=True, fastmath=FASTMATH_FLAGS, nogil=True)(function)
