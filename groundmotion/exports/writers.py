"""The three export writers. Each streams the access-filtered points in chunks.

Units: displacement mm, velocity mm/yr, heights m; positive LOS is towards the satellite.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import shapely
from affine import Affine
from django.db.models import QuerySet

from groundmotion.exports.columns import (
    TO_LAEA,
    chunk_table,
    date_columns,
    static_block,
    static_columns,
)
from groundmotion.exports.csvtext import format_rows
from groundmotion.exports.stream import PointChunk, ProgressCallback, stream_points
from groundmotion.models import Dataset, Level, MeasurementPoint


class ExportError(ValueError):
    """A request the writers cannot satisfy (e.g. GeoTIFF of a non-L3 dataset)."""


class Format:
    CSV = "csv"
    GPKG = "gpkg"
    GEOTIFF = "geotiff"
    ALL = (CSV, GPKG, GEOTIFF)


CONTENT_TYPES = {
    Format.CSV: "text/csv",
    Format.GPKG: "application/geopackage+sqlite3",
    Format.GEOTIFF: "image/tiff",
}
EXTENSIONS = {Format.CSV: "csv", Format.GPKG: "gpkg", Format.GEOTIFF: "tif"}
GPKG_DATE_PREFIX = "d"


@dataclass
class ExportResult:
    point_count: int
    byte_count: int


def csv_chunks(
    points: QuerySet[MeasurementPoint], dataset: Dataset, progress: ProgressCallback | None = None
) -> Iterator[bytes]:
    """EGMS CSV as a stream of byte blocks: the header, then one block per chunk of points.

    Rows are formatted from integers by csvtext's numba kernel (see its docstring)."""
    yield csv_header(dataset)
    written = 0
    # Optimization: chunk k is formatted in a thread (numpy and the nogil kernel) while this
    # thread reads chunk k+1 from the COPY (Django's connection stays in this thread).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-format") as pool:
        pending: Future | None = None
        for chunk in stream_points(points, dataset):
            if pending is not None:
                yield pending.result()
            pending = pool.submit(csv_rows, chunk, dataset)
            written += len(chunk)
            if progress:
                progress(written)
        if pending is not None:
            yield pending.result()


def csv_rows(chunk: PointChunk, dataset: Dataset) -> bytes:
    """The CSV lines of one chunk of points."""
    block = static_block(chunk, dataset)
    return format_rows(chunk.pid_bytes, block.values, block.decimals, block.least, chunk.series)


def csv_header(dataset: Dataset) -> bytes:
    names = static_columns(dataset) + date_columns(dataset.acquisition_dates)
    return (",".join(names) + "\n").encode("utf-8")


def write_csv(
    points: QuerySet[MeasurementPoint],
    dataset: Dataset,
    path: Path,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write the EGMS CSV to path; returns the number of points and bytes written."""
    count = 0

    def counting(done: int) -> None:
        nonlocal count
        count = done
        if progress:
            progress(done)

    with open(path, "wb") as target:
        for block in csv_chunks(points, dataset, counting):
            target.write(block)
    return ExportResult(point_count=count, byte_count=path.stat().st_size)


def write_gpkg(
    points: QuerySet[MeasurementPoint],
    dataset: Dataset,
    path: Path,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write a GeoPackage layer named after the dataset: WGS84 points, EGMS attributes, and
    the series as one column per date named d<yyyymmdd> (mm)."""
    count = 0
    for chunk in stream_points(points, dataset):
        table = chunk_table(chunk, dataset, GPKG_DATE_PREFIX)
        geometry = shapely.points(chunk.longitude, chunk.latitude)
        frame = gpd.GeoDataFrame(table, geometry=geometry, crs="EPSG:4326")
        pyogrio.write_dataframe(frame, path, layer=dataset.slug, driver="GPKG", append=count > 0)
        count += len(chunk)
        if progress:
            progress(count)
    if count == 0:
        write_empty_gpkg(dataset, path)
    return ExportResult(point_count=count, byte_count=path.stat().st_size)


def write_empty_gpkg(dataset: Dataset, path: Path) -> None:
    frame = gpd.GeoDataFrame({name: [] for name in static_columns(dataset)},
                             geometry=gpd.GeoSeries([], crs="EPSG:4326"))  # fmt: skip
    pyogrio.write_dataframe(frame, path, layer=dataset.slug, driver="GPKG",
                            geometry_type="Point")  # fmt: skip


def grid_indices(chunk_lon: np.ndarray, chunk_lat: np.ndarray, size: float) -> np.ndarray:
    """Integer (column, row) of each point's cell on the EPSG:3035 grid of the given size (m)."""
    easting, northing = TO_LAEA.transform(chunk_lon, chunk_lat)
    return np.floor(np.column_stack([easting, northing]) / size).astype(np.int64)


def write_geotiff(
    points: QuerySet[MeasurementPoint],
    dataset: Dataset,
    path: Path,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write an L3 component's mean velocity (mm/yr, float32, NaN nodata) on its EPSG:3035
    grid. Only cells with a visible point carry a value."""
    if dataset.level != Level.L3:
        raise ExportError("GeoTIFF exports are for L3 (gridded) datasets only.")
    size = float(dataset.grid_size_m or 100)
    cells, velocities = [], []
    for chunk in stream_points(points, dataset, with_series=False, with_extras=False):
        cells.append(grid_indices(chunk.longitude, chunk.latitude, size))
        velocities.append(chunk.attributes["velocity"])
        if progress:
            progress(sum(len(part) for part in velocities))
    cell = np.concatenate(cells) if cells else np.zeros((0, 2), dtype=np.int64)
    velocity = np.concatenate(velocities) if velocities else np.zeros(0, dtype=np.float32)
    write_grid(path, cell, velocity, size)
    return ExportResult(point_count=len(velocity), byte_count=path.stat().st_size)


def write_grid(path: Path, cell: np.ndarray, velocity: np.ndarray, size: float) -> None:
    if len(cell) == 0:
        cell = np.zeros((1, 2), dtype=np.int64)
        velocity = np.full(1, np.nan, dtype=np.float32)
    first_column, first_row = cell.min(axis=0)
    last_column, last_row = cell.max(axis=0)
    raster = np.full((last_row - first_row + 1, last_column - first_column + 1), np.nan,
                     dtype=np.float32)  # fmt: skip
    raster[last_row - cell[:, 1], cell[:, 0] - first_column] = velocity
    transform = Affine(size, 0, first_column * size, 0, -size, (last_row + 1) * size)
    profile = {"driver": "GTiff", "height": raster.shape[0], "width": raster.shape[1],
               "count": 1, "dtype": "float32", "crs": "EPSG:3035", "transform": transform,
               "nodata": np.nan, "compress": "deflate"}  # fmt: skip
    with rasterio.open(path, "w", **profile) as target:
        target.write(raster, 1)
        target.update_tags(1, units="mm/yr", quantity="mean velocity")


WRITERS = {Format.CSV: write_csv, Format.GPKG: write_gpkg, Format.GEOTIFF: write_geotiff}


def write_export(
    export_format: str,
    points: QuerySet[MeasurementPoint],
    dataset: Dataset,
    path: Path,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write the points in the given format to path. A failed export leaves no file behind."""
    if export_format not in WRITERS:
        raise ExportError(f"Unknown format {export_format!r}: choose one of {Format.ALL}.")
    if export_format == Format.GEOTIFF and dataset.level != Level.L3:
        raise ExportError("GeoTIFF exports are for L3 (gridded) datasets only.")
    # Written beside the target under a temporary name that keeps the extension (GDAL wants it).
    partial = path.with_name(f".partial-{path.name}")
    partial.unlink(missing_ok=True)
    try:
        result = WRITERS[export_format](points, dataset, partial, progress)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    result.byte_count = path.stat().st_size
    return result


__all__ = ["CONTENT_TYPES", "EXTENSIONS", "ExportError", "ExportResult", "Format"]
