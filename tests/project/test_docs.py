"""docs/architecture.md's layout block names every module of the apps, and nothing else.

The block is the first fenced block after the marker line; each non-blank line starts with a
path relative to the repository root (folders end with "/"), then its description. A module
added, moved or removed without updating the block fails here. No database needed.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
MARKER = "<!-- layout: checked by tests/project/test_docs.py -->"
APPS = ("groundmotion", "processing", "downloads", "accounts", "config", "ogc", "operations")


def layout_paths() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, f"{DOC.name} has lost its layout marker"
    block = re.search(r"```[a-z]*\n(.*?)\n```", text.split(MARKER, 1)[1], re.DOTALL)
    assert block, f"no fenced block after the layout marker in {DOC.name}"
    return [line.split()[0] for line in block.group(1).splitlines() if line.strip()]


def app_modules() -> set[str]:
    """Every .py module of the apps, but migrations and __init__.py files."""
    return {
        path.relative_to(ROOT).as_posix()
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if path.name != "__init__.py"
        and "migrations" not in path.relative_to(ROOT).parts
        and "__pycache__" not in path.parts
    }


def test_layout_paths_exist() -> None:
    paths = layout_paths()
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert not missing, f"named in docs/architecture.md but not in the tree: {missing}"
    folders = [path for path in paths if path.endswith("/")]
    assert all((ROOT / path).is_dir() for path in folders)
    assert len(paths) == len(set(paths)), "a path is named twice in docs/architecture.md"


def test_layout_names_every_module() -> None:
    named = set(layout_paths())
    unnamed = sorted(app_modules() - named)
    assert not unnamed, f"modules missing from docs/architecture.md's layout: {unnamed}"


def test_layout_names_every_package() -> None:
    """Each package folder (a folder with an __init__.py, migrations aside) has its line."""
    named = set(layout_paths())
    packages = {
        init.parent.relative_to(ROOT).as_posix() + "/"
        for app in APPS
        for init in (ROOT / app).rglob("__init__.py")
        if "migrations" not in init.relative_to(ROOT).parts
    }
    unnamed = sorted(packages - named)
    assert not unnamed, f"packages missing from docs/architecture.md's layout: {unnamed}"
