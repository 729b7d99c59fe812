"""An ingest killed or failing halfway: no half dataset, no orphan parser, no open
transaction, no staged table after the next load, and a reload of the same slug right after
succeeds."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from fixtures import demo_region
from groundmotion.models import Dataset
from tests.faults.conftest import (
    ROOT,
    eventually,
    idle_transactions,
    staged_tables,
    under_plan,
)
from tests.services import alive, database_url, descendants

pytestmark = pytest.mark.django_db(transaction=True)
SLUG = "reloaded"
# Blocks of 64 KiB: the 3,000-point file is read in a dozen chunks.
SMALL_BLOCKS = {"groundmotion.ingest.csvtable:BLOCK_BYTES": 64 * 1024}
CHUNK = "groundmotion.ingest.loader:Loader._load_chunk"
FINISH = "groundmotion.ingest.loader:Loader.finish"


@pytest.fixture
def product(tmp_path) -> tuple[Path, int]:
    """An EGMS CSV of 3,000 points, written by our own exporter from the demo."""
    call_command("make_demo", points=3000, seed=2, years=1.0, stdout=io.StringIO())
    track = demo_region.TRACKS[0].slug
    path = tmp_path / "EGMS_L2a_088_0283_IW2_VV_2019_2023_1.csv"
    call_command("export", track, "--format", "csv", "-o", str(path), stdout=io.StringIO())
    return path, Dataset.objects.get(slug=track).point_count


def ingest(plan, path: Path) -> subprocess.Popen:
    command = under_plan(plan, "manage.py", "ingest", str(path), "--dataset", SLUG)
    environment = {**os.environ, "DEBUG": "true", "DATABASE_URL": database_url()}
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until_fired(plan, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not plan.read().get("fired"):
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "the fault never fired"
        time.sleep(0.05)


def assert_clean_and_reload_succeeds(plan, path: Path, points: int) -> None:
    assert not Dataset.objects.filter(slug=SLUG).exists()  # no half dataset
    eventually(idle_transactions)  # no transaction left holding locks
    plan.write({})
    reload = ingest(plan, path)
    output, _ = reload.communicate(timeout=120)  # a reload that hangs fails here
    assert reload.returncode == 0, output
    assert Dataset.objects.get(slug=SLUG).point_count == points
    assert staged_tables() == []  # the killed load's staged table was dropped by this one


@pytest.mark.parametrize("point", [CHUNK, FINISH])
def test_an_ingest_killed_halfway_leaves_no_parser_no_lock_and_reloads(
    point, product, plan
) -> None:
    path, points = product
    plan.arm(point, "hang", after=2 if point == CHUNK else 1, **SMALL_BLOCKS)
    process = ingest(plan, path)
    try:
        wait_until_fired(plan, process)
        children = descendants(process.pid)
        if point == CHUNK:  # at finish the parser has already ended
            assert children, "the parser process was expected to be running"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    eventually(lambda: [child for child in children if alive(child)], seconds=10)
    assert_clean_and_reload_succeeds(plan, path, points)


@pytest.mark.parametrize("point", [CHUNK, FINISH])
def test_an_ingest_whose_chunk_raises_says_why_and_reloads(point, product, plan) -> None:
    path, points = product
    plan.arm(point, "raise", after=2 if point == CHUNK else 1, **SMALL_BLOCKS)
    process = ingest(plan, path)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "injected fault" in output
    assert_clean_and_reload_succeeds(plan, path, points)


def test_a_killed_process_takes_its_parser_with_it() -> None:
    """The mechanism alone: prefetch's child gets SIGKILL when its parent dies."""
    script = (
        "import itertools, time, django\n"
        "django.setup()\n"
        "from groundmotion.ingest.prefetch import prefetch\n"
        "items = prefetch(iter(itertools.count()), depth=1)\n"
        "next(items); print('ready', flush=True); time.sleep(600)\n"
    )
    environment = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "config.settings"}
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "ready"
    (child,) = descendants(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    eventually(lambda: alive(child), seconds=10)
