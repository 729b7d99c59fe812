"""Run a command of the service with a fault waiting at one point of its code.

    python -m tests.faults.inject PLAN.json -- celery -A config worker ...
    python -m tests.faults.inject PLAN.json -- manage.py ingest FILE --dataset SLUG

PLAN.json names the point (`module:function` or `module:Class.method`), after how many calls
the fault fires and what it does: "kill" (SIGKILL of the calling process, as the OOM killer
would), "raise" (an exception inside the chunk), "hang" (sleep, for a test that kills the
process itself) or "slow" (sleep `seconds`, then go on). The count and a `fired` flag live
in the plan file, so the fault fires once across processes (a Celery pool child that dies is
replaced by a fresh fork, which must not die again), and a test can arm a new fault in a
running worker by rewriting the file.
`settings` in the plan sets module constants first (small chunks, so a test's few thousand
points make several chunks). Nothing here is imported by the service.
"""

from __future__ import annotations

import fcntl
import functools
import importlib
import json
import os
import signal
import sys
import time
from pathlib import Path

# Every point a test may arm, wrapped once when the command starts.
POINTS = [
    "groundmotion.ingest.loader:Loader._load_chunk",
    "groundmotion.ingest.loader:Loader.finish",
    "groundmotion.storage.copy_in:update_parameters",
    "processing.products.fit:record_provenance",
    "groundmotion.storage.copy_in:copy_series",
    "groundmotion.storage.copy_in:finish_load",
    "processing.products.decompose:write_cells",
    "groundmotion.exports.writers:csv_rows",
    "groundmotion.storage.copy_out:take_rows",
    "downloads.service:record_download",
    "processing.fanout:compute_chunk",
]


class InjectedFault(RuntimeError):
    """The exception a "raise" fault throws."""


def read_plan(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def should_fire(path: Path, point: str) -> dict | None:
    """Count this call of `point` in the plan; the plan when the fault fires now."""
    with open(path, "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        plan = json.loads(handle.read() or "{}")
        if plan.get("point") != point or plan.get("fired"):
            return None
        plan["calls"] = plan.get("calls", 0) + 1
        fire = plan["calls"] >= plan.get("after", 1)
        plan["fired"] = fire
        if fire:
            plan["pid"] = os.getpid()
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(plan))
    return plan if fire else None


def act(plan: dict, point: str) -> None:
    action = plan["action"]
    if action == "slow":
        time.sleep(plan["seconds"])
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "hang":
        time.sleep(3600)
    raise InjectedFault(f"injected fault at {point}")


def wrap(path: Path, point: str) -> None:
    module_name, _, attribute = point.partition(":")
    owner: object = importlib.import_module(module_name)
    *parents, name = attribute.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original = getattr(owner, name)

    @functools.wraps(original)
    def faulty(*args: object, **kwargs: object) -> object:
        fired = should_fire(path, point)
        if fired:
            act(fired, point)
        return original(*args, **kwargs)

    setattr(owner, name, faulty)


def apply_settings(plan: dict) -> None:
    for target, value in plan.get("settings", {}).items():
        module_name, _, name = target.partition(":")
        setattr(importlib.import_module(module_name), name, value)


def main(argv: list[str]) -> None:
    path = Path(argv[0])
    command = argv[argv.index("--") + 1 :]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    apply_settings(read_plan(path))
    for point in POINTS:
        wrap(path, point)
    if command[0] == "celery":
        from celery.bin.celery import main as celery_main

        sys.argv = command
        celery_main()
    else:
        from django.core.management import execute_from_command_line

        execute_from_command_line(command)


if __name__ == "__main__":
    main(sys.argv[1:])
