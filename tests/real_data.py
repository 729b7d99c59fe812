"""Where the real third-party test data lives: ../shared/data/real beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = Path(os.environ.get("GROUNDMOTION_REAL_DATA", ROOT.parent / "shared" / "data" / "real"))
