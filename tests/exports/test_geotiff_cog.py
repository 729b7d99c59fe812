"""GeoTIFF exports are Cloud Optimized GeoTIFFs: checked with Debian's gdalinfo and GDAL's own
COG validator, pixels and overviews read back against the points' known cell means."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from pyproj import Transformer

from groundmotion import access
from groundmotion.exports.writers import Format, write_export
from groundmotion.models import Component, Dataset, DownloadRecord, Level, ProcessingJob
from tests.factories import DATES, make_dataset
from tests.real_data import REAL_DATA

pytestmark = pytest.mark.django_db
TO_WGS84 = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True)
TO_LAEA = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)
# python3-gdal, which Debian's gdal-bin depends on, ships GDAL's COG validator.
VALIDATOR = "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py"
FIRST_COLUMN, TOP_ROW = 35_000, 23_699  # EPSG:3035 100 m cell indices of the top-left cell
USTICA_UP = REAL_DATA / "egms-ortho-product" / "EGMS_L3_E45N17_100km_U_2020_2024_1.zip"


class Grid:
    """An L3 up-down dataset with points at known cells of a height x width grid, and the
    grid the export must hold: the mean velocity of each cell's points, NaN elsewhere."""

    def __init__(self, slug: str, height: int, width: int, filled: int, **dataset) -> None:
        rng = np.random.default_rng(height * width)
        # The four corners fix the extent; the rest are random distinct cells.
        corners = [0, width - 1, (height - 1) * width, height * width - 1]
        others = rng.choice(np.arange(1, height * width - 1), filled, replace=False)
        flat = np.unique(np.concatenate([corners, others]))
        rows, columns = np.divmod(flat, width)
        # A 2 x 2 block at even offsets (one cell of the first overview): three cells with
        # values, the first holding two points, and one empty cell.
        top, left = (height // 4) * 2, (width // 4) * 2
        self.block = (top, left)
        block = [(top, left), (top, left + 1), (top + 1, left)]
        keep = ~np.isin(flat, [r * width + c for r, c in [*block, (top + 1, left + 1)]])
        rows = np.concatenate([rows[keep], [r for r, _ in block], [top]])
        columns = np.concatenate([columns[keep], [c for _, c in block], [left]])
        # Points in random order (the export's grid grows every way), the second point of
        # the shared cell last (in another chunk than the first).
        order = np.append(rng.permutation(len(rows) - 1), len(rows) - 1)
        rows, columns = rows[order], columns[order]
        velocity = rng.normal(0, 6, len(rows)).astype(np.float32)
        # Cell centres, the last point (sharing the block's first cell) 30 m off its centre.
        easting = (FIRST_COLUMN + columns) * 100.0 + 50
        northing = (TOP_ROW - rows) * 100.0 + 50
        easting[-1] += 30
        northing[-1] -= 30
        lon, lat = TO_WGS84.transform(easting, northing)
        self.dataset = make_dataset(
            slug, lon=lon, lat=lat, velocity=velocity, level=Level.L3, pass_direction="", **dataset
        )
        Dataset.objects.filter(pk=self.dataset.pk).update(
            component=Component.UP_DOWN, grid_size_m=100
        )
        self.dataset.refresh_from_db()
        sums = np.zeros((height, width))
        counts = np.zeros((height, width))
        np.add.at(sums, (rows, columns), velocity.astype(np.float64))
        np.add.at(counts, (rows, columns), 1)
        with np.errstate(invalid="ignore"):
            self.expected = sums / counts
        self.lon, self.lat = lon, lat

    def bbox(self) -> str:
        return ",".join(
            str(value)
            for value in (
                self.lon.min() - 0.01,
                self.lat.min() - 0.01,
                self.lon.max() + 0.01,
                self.lat.max() + 0.01,
            )
        )


def gdalinfo(path: Path, *options: str) -> str:
    return subprocess.run(
        ["gdalinfo", *options, str(path)], check=True, capture_output=True, text=True
    ).stdout


def check_cog(path: Path, grid: Grid) -> None:
    """A valid COG whose pixels are the grid's cell means, on its EPSG:3035 cells."""
    validation = subprocess.run(
        ["/usr/bin/python3", VALIDATOR, str(path)], capture_output=True, text=True
    )
    assert validation.returncode == 0, validation.stdout + validation.stderr
    assert "is a valid cloud optimized GeoTIFF" in validation.stdout
    assert "LAYOUT=COG" in gdalinfo(path)
    with rasterio.open(path) as raster:
        assert raster.crs.to_epsg() == 3035 and raster.res == (100.0, 100.0)
        assert (raster.transform.c, raster.transform.f) == (
            FIRST_COLUMN * 100.0,
            (TOP_ROW + 1) * 100.0,
        )
        values = raster.read(1)
    np.testing.assert_array_equal(np.isfinite(values), np.isfinite(grid.expected))
    np.testing.assert_allclose(values, grid.expected, rtol=0, atol=1e-5)


@pytest.fixture
def grid() -> Grid:
    return Grid("cog-up", height=700, width=1300, filled=3000)


def test_an_l3_export_is_a_valid_cog_holding_the_cell_means(grid, tmp_path) -> None:
    path = tmp_path / "up.tif"
    points = access.aggregatable_points(AnonymousUser(), grid.dataset)
    result = write_export(Format.GEOTIFF, points, grid.dataset, path)
    assert result.point_count == grid.dataset.point_count
    check_cog(path, grid)
    text = gdalinfo(path)
    assert "Size is 1300, 700" in text and "Block=512x512 Type=Float32" in text
    assert "COMPRESSION=DEFLATE" in text and "PREDICTOR=3" in text
    assert "Description = mean velocity, up-down, mm/yr, + up" in text
    assert "Unit Type: mm/yr" in text and "NoData Value=nan" in text
    assert "Overviews: 650x350, 325x175" in text
    row, column = grid.block
    assert np.isnan(grid.expected[row + 1, column + 1])
    assert np.count_nonzero(np.isfinite(grid.expected[row : row + 2, column : column + 2])) == 3


def test_small_chunks_in_any_order_give_the_same_grid(grid, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("groundmotion.exports.stream.CHUNK_ROWS", 97)
    path = tmp_path / "up.tif"
    result = write_export(Format.GEOTIFF, grid.dataset.points.all(), grid.dataset, path)
    assert result.point_count == grid.dataset.point_count > 30 * 97
    check_cog(path, grid)


def test_overviews_average_the_cells_with_data_and_skip_nodata(grid, tmp_path) -> None:
    path = tmp_path / "up.tif"
    write_export(Format.GEOTIFF, grid.dataset.points.all(), grid.dataset, path)
    with rasterio.open(path, overview_level=0) as overview:
        halved = overview.read(1)
    blocks = grid.expected.reshape(350, 2, 650, 2)
    with np.errstate(invalid="ignore"):
        means = np.nansum(blocks, axis=(1, 3)) / np.isfinite(blocks).sum(axis=(1, 3))
    np.testing.assert_array_equal(np.isfinite(halved), np.isfinite(means))
    np.testing.assert_allclose(halved, means, rtol=1e-6, atol=1e-5)
    row, column = grid.block
    three = grid.expected[row : row + 2, column : column + 2]
    assert halved[row // 2, column // 2] == pytest.approx(np.nanmean(three), abs=1e-5)


def test_the_metadata_says_what_the_band_holds(grid, tmp_path) -> None:
    path = tmp_path / "up.tif"
    write_export(Format.GEOTIFF, grid.dataset.points.all(), grid.dataset, path)
    info = json.loads(gdalinfo(path, "-json"))
    band = info["bands"][0]
    assert band["description"] == "mean velocity, up-down, mm/yr, + up"
    assert band["unit"] == "mm/yr" and band["noDataValue"] == "NaN"
    assert band["metadata"][""] == {
        "component": "up-down",
        "quantity": "mean velocity, up-down",
        "sign_convention": "positive up-down displacement is upwards (uplift)",
        "units": "mm/yr",
    }
    tags = info["metadata"][""]
    assert tags["dataset"] == "Cog Up" and tags["slug"] == "cog-up"
    assert (tags["level"], tags["grid_size_m"]) == ("L3", "100")
    assert (tags["first_date"], tags["last_date"]) == (DATES[0].isoformat(), DATES[-1].isoformat())
    assert "product_release" not in tags and "ascending_dataset" not in tags


def test_a_decomposed_l3_names_the_tracks_it_was_solved_from(tmp_path) -> None:
    grid = Grid("cog-small", height=20, width=30, filled=50)
    for slug, orbit in (("asc-132", 132), ("desc-59", 59)):
        make_dataset(slug, level=Level.L2B)
        Dataset.objects.filter(slug=slug).update(relative_orbit=orbit)
    parameters = {"ascending": "asc-132", "descending": "desc-59", "grid_m": 100}
    Dataset.objects.filter(pk=grid.dataset.pk).update(
        provenance={"step": "decompose", "parameters": parameters}
    )
    grid.dataset.refresh_from_db()
    path = tmp_path / "up.tif"
    write_export(Format.GEOTIFF, grid.dataset.points.all(), grid.dataset, path)
    tags = json.loads(gdalinfo(path, "-json"))["metadata"][""]
    assert (tags["ascending_dataset"], tags["ascending_track"]) == ("Asc 132", "132")
    assert (tags["descending_dataset"], tags["descending_track"]) == ("Desc 59", "59")
    check_cog(path, grid)  # no overviews under 512 px, still a COG
    assert "Overviews" not in gdalinfo(path)


@pytest.mark.skipif(not USTICA_UP.exists(), reason="real data folder not present")
def test_a_real_egms_l3_tile_exports_its_velocities_and_release(tmp_path) -> None:
    call_command("ingest", str(USTICA_UP), "--dataset", "ustica-up", stdout=io.StringIO())
    dataset = Dataset.objects.get(slug="ustica-up")
    path = tmp_path / "ustica-up.tif"
    write_export(Format.GEOTIFF, dataset.points.all(), dataset, path)
    with zipfile.ZipFile(USTICA_UP) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        rows = list(csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))
    easting = np.array([float(row["easting"]) for row in rows])
    northing = np.array([float(row["northing"]) for row in rows])
    velocity = np.array([float(row["mean_velocity"]) for row in rows])
    with rasterio.open(path) as raster:
        sampled = np.array([v[0] for v in raster.sample(zip(easting, northing, strict=True))])
        assert np.isfinite(raster.read(1)).sum() == len(rows) == 522
    np.testing.assert_allclose(sampled, velocity, rtol=0, atol=1e-5)
    tags = json.loads(gdalinfo(path, "-json"))["metadata"][""]
    assert (tags["product_release"], tags["product_version"]) == ("2020_2024", "1")
    assert tags["egms_tile"] == "E45N17" and "LAYOUT=COG" in gdalinfo(path)


def test_a_scripted_geotiff_download_is_a_cog(client, member, partners, tmp_path) -> None:
    grid = Grid("cog-down", height=40, width=600, filled=800, groups=[partners])
    client.force_login(member)
    response = client.get(
        f"/api/downloads/{grid.dataset.slug}/", {"output": "geotiff", "bbox": grid.bbox()}
    )
    assert response.status_code == 200 and response["Content-Type"] == "image/tiff"
    path = tmp_path / "down.tif"
    path.write_bytes(
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    check_cog(path, grid)
    assert "Overviews: 300x20" in gdalinfo(path)


def test_a_geotiff_export_job_writes_a_cog(
    client, member, partners, settings, tmp_path, django_capture_on_commit_callbacks
) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "DOWNLOAD_SYNC_POINTS": 10}
    settings.MEDIA_ROOT = tmp_path / "media"
    grid = Grid("cog-job", height=40, width=600, filled=800, groups=[partners])
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/downloads/",
            {"dataset": grid.dataset.slug, "format": "geotiff", "bbox": grid.bbox()},
        )
    job = ProcessingJob.objects.get(kind=ProcessingJob.Kind.EXPORT)
    assert response.status_code == 302 and job.state == ProcessingJob.State.SUCCEEDED
    file = client.get(f"/downloads/jobs/{job.pk}/file")
    path = tmp_path / "job.tif"
    path.write_bytes(b"".join(file.streaming_content))
    check_cog(path, grid)
    assert DownloadRecord.objects.get().byte_count == path.stat().st_size
    # Only the finished file is left: no partial file, no overview temporary.
    assert [p.name for p in (tmp_path / "media").rglob("*") if p.is_file()] == [
        f"{grid.dataset.slug}.tif"
    ]
