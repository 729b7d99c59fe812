"""The ports `make setup` used are remembered in var/ports.env and read by make, the cluster
script and the settings, so a later manage.py reaches the same cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from config.settings import read_local_ports

ROOT = Path(__file__).resolve().parents[2]


def make_variable(directory: Path, name: str, env: dict[str, str]) -> str:
    """The value make gives a variable of the project's Makefile, run in directory."""
    shutil.copy(ROOT / "Makefile", directory / "Makefile")
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", f"show: ; @echo $({name})", "show"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_make_reads_the_saved_ports_and_the_environment_still_wins(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("PG_PORT", "REDIS_PORT")}
    env.pop("DATABASE_URL", None)
    assert make_variable(tmp_path, "PG_PORT", env) == "54329"
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "ports.env").write_text("PG_PORT=54411\nREDIS_PORT=63711\n")
    assert make_variable(tmp_path, "PG_PORT", env) == "54411"
    assert make_variable(tmp_path, "REDIS_PORT", env) == "63711"
    assert make_variable(tmp_path, "DATABASE_URL", env).endswith(":54411/groundmotion")
    assert make_variable(tmp_path, "PG_PORT", {**env, "PG_PORT": "54500"}) == "54500"


def test_settings_read_only_the_two_ports(tmp_path: Path) -> None:
    path = tmp_path / "ports.env"
    assert read_local_ports(path) == {}
    path.write_text("PG_PORT=54411\nREDIS_PORT=63711\nSECRET_KEY=nope\n")
    assert read_local_ports(path) == {"PG_PORT": "54411", "REDIS_PORT": "63711"}


def test_the_cluster_script_writes_the_ports_it_started_on() -> None:
    script = (ROOT / "scripts" / "cluster.sh").read_text()
    assert "saved_port PG_PORT" in script and '>"$ports_file"' in script
    assert (ROOT / "var" / "ports.env").exists(), "make setup has run, so the file is there"
    saved = read_local_ports(ROOT / "var" / "ports.env")
    assert saved["PG_PORT"].isdigit() and saved["REDIS_PORT"].isdigit()
