"""The benchmark scripts are not run by the suite (they take minutes), but they must import:
a renamed helper should break a test, not the next person's `make bench`."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from bench.__main__ import BENCH_DIR

# Run by the bench's separate MintPy interpreter, not by ours.
OTHER_INTERPRETER = {"_mintpy_fit"}
MODULES = sorted(
    module.name
    for module in pkgutil.iter_modules([str(BENCH_DIR)])
    if module.name not in OTHER_INTERPRETER
)


@pytest.mark.parametrize("name", MODULES)
def test_bench_module_imports(name):
    module = importlib.import_module(f"bench.{name}")
    if not name.startswith("_"):
        assert callable(module.main)
