"""`make bench`: run every benchmark in bench/ in turn (each prints its own ratios)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).parent


def main(names: list[str]) -> None:
    available = sorted(
        module.name
        for module in pkgutil.iter_modules([str(BENCH_DIR)])
        if not module.name.startswith("_")
    )
    for name in names or available:
        print(f"=== bench/{name}.py", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
