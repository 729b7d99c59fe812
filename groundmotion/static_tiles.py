"""A public dataset's tiles as one static PMTiles v3 archive, for a CDN or an object store.

Every tile is made by the live endpoint's own path for an anonymous user (access.py decides
what the dataset is to them, tiles.tile_kind and tiles.render_tile make the MVT, tile_views
compresses it), so each archived tile, once inflated, is byte for byte what /tiles/ answers
anonymous users: cells and points, the reduced pyramid for reduced datasets, masks applied.

Which tiles: at each zoom, those that the finest non-empty cells touch (the cells are built
from what anonymous users may aggregate), each cell widened by the tiles' buffer (points within
64 pixels, cells one cell beyond the edge, a coarse reduced cell reaching past its points);
the ones that come out empty are skipped. Tiles go in Hilbert order (the PMTiles tile id), so
the archive is clustered.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from groundmotion import access, cells, tile_metadata, tiles
from groundmotion.access import AnyUser
from groundmotion.models import Dataset, Status
from groundmotion.storage.occupied_cells import occupied_cells
from groundmotion.tile_views import compress

ANONYMOUS = AnonymousUser()
# The point zoom and three more: points at every point zoom, thinned to the tile cap, and the
# viewer over-zooms the last level (each further zoom is four times the tiles).
EXTRA_POINT_ZOOMS = 3
Progress = Callable[[float, str], None]


class NotPublic(Exception):
    """The dataset is not what anonymous users may see; the message says why."""


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    tiles: int
    empty_skipped: int
    bytes: int
    seconds: float
    min_zoom: int
    max_zoom: int


def default_max_zoom() -> int:
    return settings.GROUNDMOTION["POINT_ZOOM"] + EXTRA_POINT_ZOOMS


def public_dataset(slug: str) -> Dataset:
    """The dataset as anonymous users see it; NotPublic naming why for any other."""
    dataset = access.visible_datasets(ANONYMOUS).filter(slug=slug).first()
    if dataset is not None:
        return dataset
    found = Dataset.objects.filter(slug=slug).first()
    if found is None:
        raise NotPublic(f"no dataset {slug!r}")
    if found.status != Status.PUBLISHED:
        raise NotPublic(f"{slug}: a {found.status} dataset is not public; publish it first")
    raise NotPublic(
        f"{slug}: its visibility is {found.visibility}; only public and reduced datasets go out"
    )


def archive_url(user: AnyUser, dataset: Dataset) -> str:
    """Where the viewer reads this dataset's tiles from the static archive, or "" for the live
    endpoint: only anonymous users, whose datasets (access.visible_datasets) are all public
    or reduced, when settings.GROUNDMOTION_PMTILES_URL is set. Signed-in users may see more
    than the archive holds (points of a reduced dataset, masked points, drafts)."""
    base = settings.GROUNDMOTION_PMTILES_URL
    if not base or user.is_authenticated:
        return ""
    return f"{base}{dataset.slug}.pmtiles"


# A cell of level L is one pixel of a tile of zoom L + CELL_ZOOMS (64 cells a side).
CELL_ZOOMS = int(math.log2(cells.CELLS_PER_TILE))


def buffer_in_tiles(dataset: Dataset, zoom: int, rows: tuple[int, int]) -> float:
    """How far beyond its edges, in tiles of `zoom`, a tile draws features: points within
    TILE_BUFFER pixels; cells one cell beyond the edge, and a cell (of the coarsest level at
    these rows, a reduced pyramid's being coarser) may reach one cell past the points in it."""
    kinds = [tiles.tile_kind(ANONYMOUS, dataset, zoom, row) for row in rows]
    if kinds[0].points:
        return tiles.TILE_BUFFER / tiles.TILE_EXTENT
    level = min(kind.level for kind in kinds)
    cell_width = 2.0 ** (zoom - level) / cells.CELLS_PER_TILE
    return (tiles.CELL_BUFFER + 1) * cell_width


def tiles_near(occupied: np.ndarray, finest_zoom: int, zoom: int, buffer: float) -> np.ndarray:
    """(x, y) of the zoom-`zoom` tiles that the finest cells (each a tile of `finest_zoom`),
    widened by `buffer` tiles, touch; each tile once."""
    scale = 2.0 ** (zoom - finest_zoom)
    last = 2**zoom - 1
    low = np.clip(np.floor(occupied * scale - buffer), 0, last).astype(np.int64)
    high = np.clip(np.floor((occupied + 1) * scale + buffer - 1e-9), 0, last).astype(np.int64)
    span = int((high - low).max()) + 1
    found = []
    for dx in range(span):
        for dy in range(span):
            step = low + np.array([dx, dy])
            found.append(step[(step <= high).all(axis=1)])
    return np.unique(np.concatenate(found), axis=0)


def candidate_tiles(dataset: Dataset, min_zoom: int, max_zoom: int) -> list[tuple[int, int, int]]:
    """Every (z, x, y) that may hold a feature, in PMTiles tile-id order: the tiles that the
    finest non-empty cells, widened by the tiles' buffer, touch."""
    level = cells.finest_level()
    occupied = occupied_cells(dataset.pk, level)
    if not len(occupied):
        return []
    finest_zoom = level + CELL_ZOOMS
    rows = (int(occupied[:, 1].min()), int(occupied[:, 1].max()))
    addresses = []
    for zoom in range(min_zoom, max_zoom + 1):
        rows_here = tuple(int(row * 2.0 ** (zoom - finest_zoom)) for row in rows)
        buffer = buffer_in_tiles(dataset, zoom, rows_here)
        near = tiles_near(occupied, finest_zoom, zoom, buffer)
        addresses.extend((zoom, int(x), int(y)) for x, y in near)
    addresses.sort(key=lambda address: zxy_to_tileid(*address))
    return addresses


def anonymous_tile(dataset: Dataset, zoom: int, x: int, y: int) -> bytes:
    """The MVT an anonymous user gets at z/x/y, uncompressed (b"" when empty)."""
    kind = tiles.tile_kind(ANONYMOUS, dataset, zoom, y)
    return tiles.render_tile(ANONYMOUS, dataset, tiles.TileAddress(zoom, x, y), kind)


def archive_metadata(dataset: Dataset, max_zoom: int) -> dict:
    """TileJSON-like metadata: name, version, legend and the layers (tile_metadata.py)."""
    layers = tile_metadata.vector_layers(dataset, access.sees_points(ANONYMOUS, dataset))
    for layer in layers:
        layer["maxzoom"] = min(layer["maxzoom"], max_zoom)
    return {
        "name": dataset.name,
        "description": dataset.description or "",
        "attribution": dataset.attribution or "",
        "version": f"1.{dataset.version}.0",
        "legend": tile_metadata.legend_text(dataset),
        "vector_layers": [layer for layer in layers if layer["minzoom"] <= max_zoom],
    }


def archive_header(dataset: Dataset, min_zoom: int, max_zoom: int) -> dict:
    west, south, east, north = dataset.extent.extent
    centre_lon, centre_lat = tile_metadata.middle((west, south, east, north))

    def e7(value: float) -> int:
        return round(value * 10_000_000)

    return {
        "tile_type": TileType.MVT,
        "tile_compression": Compression.GZIP,
        "min_zoom": min_zoom,
        "max_zoom": max_zoom,
        "min_lon_e7": e7(west),
        "min_lat_e7": e7(south),
        "max_lon_e7": e7(east),
        "max_lat_e7": e7(north),
        "center_zoom": min(max(tile_metadata.OPENING_ZOOM, min_zoom), max_zoom),
        "center_lon_e7": e7(centre_lon),
        "center_lat_e7": e7(centre_lat),
    }


def rendered_tiles(
    dataset: Dataset, addresses: list[tuple[int, int, int]], progress: Progress | None
) -> Iterator[tuple[int, bytes]]:
    """(tile id, gzip MVT) of every non-empty tile among `addresses`, in their order."""
    for done, (zoom, x, y) in enumerate(addresses):
        body = anonymous_tile(dataset, zoom, x, y)
        if body:
            yield zxy_to_tileid(zoom, x, y), compress(body)
        if progress and done % 500 == 0:
            progress(done / len(addresses), f"{done:,} of {len(addresses):,} tiles")


def export_pmtiles(
    slug: str,
    path: str | os.PathLike,
    *,
    min_zoom: int = 0,
    max_zoom: int | None = None,
    progress: Progress | None = None,
) -> ExportSummary:
    """Write the anonymous tiles of dataset `slug` at zooms [min_zoom, max_zoom] to a PMTiles
    archive at `path`: written under a temporary name beside it, then renamed in one step, so
    a reader never meets half an archive. NotPublic for a dataset anonymous users may not see."""
    dataset = public_dataset(slug)
    max_zoom = default_max_zoom() if max_zoom is None else max_zoom
    if not 0 <= min_zoom <= max_zoom <= tiles.MAX_ZOOM:
        raise ValueError(f"zooms must be 0 <= minzoom <= maxzoom <= {tiles.MAX_ZOOM}")
    if dataset.extent is None:
        raise NotPublic(f"{slug}: the dataset has no points")
    started = time.perf_counter()
    addresses = candidate_tiles(dataset, min_zoom, max_zoom)
    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    written = 0
    try:
        with os.fdopen(handle, "wb") as output:
            writer = Writer(output)
            for tile_id, body in rendered_tiles(dataset, addresses, progress):
                writer.write_tile(tile_id, body)
                written += 1
            if not written:
                raise NotPublic(f"{slug}: anonymous users see no tile of it")
            writer.finalize(
                archive_header(dataset, min_zoom, max_zoom), archive_metadata(dataset, max_zoom)
            )
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return ExportSummary(
        target,
        written,
        len(addresses) - written,
        target.stat().st_size,
        time.perf_counter() - started,
        min_zoom,
        max_zoom,
    )
