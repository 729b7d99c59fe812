"""The "pmtiles" job: a dataset's static public tiles rebuilt, or removed once not public."""

from __future__ import annotations

from groundmotion import static_tiles
from groundmotion.models import Dataset
from groundmotion.static_tile_jobs import archive_path
from processing.products import ProgressCallback


def run_pmtiles(parameters: dict, progress: ProgressCallback) -> Dataset | None:
    """Write <GROUNDMOTION_PMTILES_DIR>/<slug>.pmtiles from the anonymous tiles; remove it
    when anonymous users may not see the dataset (a draft now, or restricted)."""
    slug = str(parameters.get("dataset"))
    path = archive_path(slug)
    if path is None:
        raise ValueError("settings.GROUNDMOTION_PMTILES_DIR is not set")
    try:
        summary = static_tiles.export_pmtiles(slug, path, progress=progress)
    except static_tiles.NotPublic as refusal:
        path.unlink(missing_ok=True)
        progress(1.0, f"removed {path.name}: {refusal}")
        return None
    progress(1.0, f"{summary.tiles:,} tiles, {summary.bytes:,} bytes in {path.name}")
    return Dataset.objects.filter(slug=slug).first()
