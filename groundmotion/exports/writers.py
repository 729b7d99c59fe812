"""The three export writers. Each streams the access-filtered points in chunks.

Units: displacement mm, velocity mm/yr, heights m. What the values measure and their sign
(LOS towards the satellite, east, up) come from groundmotion/quantities.py: the GeoPackage's
layer metadata and the GeoTIFF's band description say it. The EGMS CSV stays EGMS's own text
(an ingested file exports back to itself), so it carries no comment lines.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pyogrio
import pyogrio.raw
import rasterio
import rasterio.shutil
from affine import Affine
from django.db.models import QuerySet
from rasterio.windows import Window

from groundmotion.exports.columns import (
    DISPLACEMENT_DECIMALS,
    TO_LAEA,
    date_columns,
    static_block,
    static_columns,
)
from groundmotion.exports.csvtext import format_rows
from groundmotion.exports.stream import PointChunk, ProgressCallback, stream_points
from groundmotion.models import Dataset, Level, MeasurementPoint
from groundmotion.quantities import level_label, quantity


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


def layer_metadata(dataset: Dataset) -> dict[str, str]:
    """What an exported layer holds, in words (GeoPackage layer metadata)."""
    words = quantity(dataset)
    return {
        "DESCRIPTION": f"{dataset.name}: {words['short']} displacement (mm) and velocity (mm/yr)",
        "QUANTITY": words["short"],
        "SIGN_CONVENTION": words["sign_convention"],
        "UNITS": "displacement mm (date columns), velocity mm/yr, heights m",
    }


def band_description(dataset: Dataset) -> str:
    """E.g. "mean velocity, up-down, mm/yr, + up"."""
    words = quantity(dataset)
    return f"mean velocity, {words['short']}, mm/yr, + {words['positive']}"


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
    the series as one column per date named d<yyyymmdd> (mm).

    Optimization: the chunks go to GDAL in one write session, as Arrow record batches
    (pyogrio.raw.write_arrow, GDAL's OGR_L_WriteArrowBatch) that point into the chunk's numpy
    arrays. pyogrio's DataFrame writer (the first version, one append per chunk) reads every
    value through Python objects: about 40 us per point at 200 dates, against about 15 us
    for GDAL's own insert from Arrow (bench/exports.py: 2.4x faster on the whole export)."""
    chunks = stream_points(points, dataset)
    first = next(chunks, None)
    if first is None:
        write_empty_gpkg(dataset, path)
        return ExportResult(point_count=0, byte_count=path.stat().st_size)
    count = 0

    def batches() -> Iterator[list[ArrowColumn]]:
        nonlocal count
        for chunk in itertools.chain([first], chunks):
            yield gpkg_batch(chunk, dataset)
            count += len(chunk)  # GDAL asks for the next batch once this one is written
            if progress:
                progress(count)

    stream = ArrowBatchStream(gpkg_schema(dataset), batches())
    try:
        pyogrio.raw.write_arrow(
            stream,
            path,
            layer=dataset.slug,
            driver="GPKG",
            geometry_name=GPKG_WKB_COLUMN,
            geometry_type="Point",
            crs="EPSG:4326",
            layer_metadata=layer_metadata(dataset),
        )
    except Exception:
        stream.raise_error()  # the batches' own exception (a failed read), not GDAL's report
        raise
    finally:
        chunks.close()
    stream.raise_error()
    return ExportResult(point_count=count, byte_count=path.stat().st_size)


# The geometry's column in the Arrow batches (the layer's geometry column is GDAL's "geom").
GPKG_WKB_COLUMN = "__wkb_geometry"
WKB_POINT = np.dtype([("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])


def gpkg_schema(dataset: Dataset) -> list[tuple[str, str]]:
    """(name, Arrow format) of the layer's columns, in chunk_table's order, then the geometry."""
    names = static_columns(dataset)[1:] + date_columns(dataset.acquisition_dates, GPKG_DATE_PREFIX)
    return [
        ("pid", ARROW_UTF8),
        *((name, ARROW_FLOAT64) for name in names),
        (GPKG_WKB_COLUMN, ARROW_BINARY),
    ]


def gpkg_batch(chunk: PointChunk, dataset: Dataset) -> list[ArrowColumn]:
    """The chunk's columns as Arrow buffers, rounded as chunk_table rounds them (as the CSV
    writes them); NaN becomes null, as pyogrio's DataFrame writer makes it."""
    lengths = np.count_nonzero(chunk.pid_bytes, axis=1)  # UTF-8, NUL-padded (no NUL inside)
    columns = [variable_column(chunk.pid_bytes[chunk.pid_bytes != 0], lengths)]
    block = static_block(chunk, dataset)
    for index in range(len(block.names)):
        places = max(int(block.decimals[index]), int(block.least[index]))
        columns.append(float_column(np.round(block.values[:, index], places)))
    if chunk.series is not None:
        rounded = np.round(chunk.series.astype(np.float64), DISPLACEMENT_DECIMALS)
        columns.extend(float_column(values) for values in np.ascontiguousarray(rounded.T))
    points = np.empty(len(chunk), dtype=WKB_POINT)
    points["order"], points["kind"] = 1, 1  # little-endian, Point
    points["x"], points["y"] = chunk.longitude, chunk.latitude
    sizes = np.full(len(chunk), WKB_POINT.itemsize)
    columns.append(variable_column(points.view(np.uint8), sizes))
    return columns


def float_column(values: np.ndarray) -> ArrowColumn:
    values = np.ascontiguousarray(values, dtype=np.float64)
    missing = np.isnan(values)
    nulls = int(missing.sum())
    validity = np.packbits(~missing, bitorder="little") if nulls else None
    return ArrowColumn(len(values), nulls, (validity, values))


def variable_column(data: np.ndarray, lengths: np.ndarray) -> ArrowColumn:
    """A string or binary column: the values' bytes end to end, and their lengths."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return ArrowColumn(len(lengths), 0, (None, offsets, np.ascontiguousarray(data)))


# The Arrow C stream interface (https://arrow.apache.org/docs/format/CStreamInterface.html),
# through ctypes: pyogrio.raw.write_arrow takes any object with __arrow_c_stream__, and the
# project has no pyarrow (which would also change pandas' default string storage). Only what
# write_gpkg needs: a struct of flat, nullable columns, each a tuple of numpy buffers that
# stay referenced until GDAL releases the batch.
ARROW_UTF8, ARROW_FLOAT64, ARROW_BINARY = "u", "g", "z"
ARROW_FLAG_NULLABLE = 2


class ArrowColumn(NamedTuple):
    length: int
    null_count: int
    buffers: tuple[np.ndarray | None, ...]  # validity bitmap (or None), then values/offsets


class _ArrowSchema(ctypes.Structure):
    _fields_ = [
        ("format", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("metadata", ctypes.c_char_p),
        ("flags", ctypes.c_int64),
        ("n_children", ctypes.c_int64),
        ("children", ctypes.c_void_p),
        ("dictionary", ctypes.c_void_p),
        ("release", ctypes.c_void_p),
        ("private_data", ctypes.c_void_p),
    ]


class _ArrowArray(ctypes.Structure):
    _fields_ = [
        ("length", ctypes.c_int64),
        ("null_count", ctypes.c_int64),
        ("offset", ctypes.c_int64),
        ("n_buffers", ctypes.c_int64),
        ("n_children", ctypes.c_int64),
        ("buffers", ctypes.c_void_p),
        ("children", ctypes.c_void_p),
        ("dictionary", ctypes.c_void_p),
        ("release", ctypes.c_void_p),
        ("private_data", ctypes.c_void_p),
    ]


class _ArrowArrayStream(ctypes.Structure):
    _fields_ = [
        ("get_schema", ctypes.c_void_p),
        ("get_next", ctypes.c_void_p),
        ("get_last_error", ctypes.c_void_p),
        ("release", ctypes.c_void_p),
        ("private_data", ctypes.c_void_p),
    ]


_SchemaRelease = ctypes.CFUNCTYPE(None, ctypes.POINTER(_ArrowSchema))
_ArrayRelease = ctypes.CFUNCTYPE(None, ctypes.POINTER(_ArrowArray))
_GetSchema = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_ArrowSchema))
_GetNext = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_ArrowArray))
_GetLastError = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
_StreamRelease = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_CAPSULE_NAME = b"arrow_array_stream"  # lives as long as the module: capsules keep the pointer


@_SchemaRelease
def _release_schema(schema: ctypes._Pointer) -> None:
    schema.contents.release = None  # the memory is the stream's, freed with it


@_ArrayRelease
def _release_child(array: ctypes._Pointer) -> None:
    array.contents.release = None  # freed with its batch


def _address(function: object) -> int:
    return ctypes.cast(function, ctypes.c_void_p).value


class ArrowBatchStream:
    """An ArrowArrayStream of struct batches: `columns` gives (name, format) of each field,
    `batches` yields one list of ArrowColumn per batch. An exception raised by the batches
    ends the stream with EIO; raise_error() raises it again for the caller."""

    def __init__(self, columns: list[tuple[str, str]], batches: Iterator[list[ArrowColumn]]):
        self.batches = batches
        self.error: BaseException | None = None
        self._names = [name.encode("utf-8") for name, _ in columns]
        self._formats = [kind.encode("ascii") for _, kind in columns]
        self._fields = (_ArrowSchema * len(columns))()
        for field, name, kind in zip(self._fields, self._names, self._formats, strict=True):
            field.format, field.name, field.flags = kind, name, ARROW_FLAG_NULLABLE
            field.release = _address(_release_schema)
        self._field_pointers = (ctypes.c_void_p * len(columns))(
            *(ctypes.addressof(field) for field in self._fields)
        )
        self._message = ctypes.create_string_buffer(1024)
        self._live: dict[int, list] = {}  # batch number -> what its C structs point into
        self._batch_number = 0
        self._callbacks = (
            _GetSchema(self._get_schema),
            _GetNext(self._get_next),
            _GetLastError(self._get_last_error),
            _StreamRelease(self._release),
            _ArrayRelease(self._release_batch),
        )
        self._stream = _ArrowArrayStream(*(_address(call) for call in self._callbacks[:4]))

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return _capsule_new(ctypes.addressof(self._stream), _CAPSULE_NAME, None)

    def raise_error(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _fail(self, error: BaseException) -> int:
        self.error = error
        self._message.value = f"{type(error).__name__}: {error}".encode()[:1000]
        return errno.EIO

    def _get_schema(self, _stream: int, out: ctypes._Pointer) -> int:
        try:
            schema = out.contents
            schema.format, schema.name, schema.metadata, schema.flags = b"+s", b"", None, 0
            schema.n_children, schema.children = (
                len(self._fields),
                ctypes.addressof(self._field_pointers),
            )
            schema.dictionary, schema.private_data = None, None
            schema.release = _address(_release_schema)
            return 0
        except BaseException as error:  # no exception may cross into C
            return self._fail(error)

    def _get_next(self, _stream: int, out: ctypes._Pointer) -> int:
        try:
            columns = next(self.batches, None)
            if columns is None:
                out.contents.release = None  # the end of the stream
            else:
                self._fill(out.contents, columns)
            return 0
        except BaseException as error:  # no exception may cross into C
            return self._fail(error)

    def _fill(self, out: _ArrowArray, columns: list[ArrowColumn]) -> None:
        if len(columns) != len(self._fields):
            raise ValueError(f"{len(columns)} columns in a batch of {len(self._fields)} fields")
        children = (_ArrowArray * len(columns))()
        keep: list = [children]
        for child, column in zip(children, columns, strict=True):
            addresses = [None if part is None else part.ctypes.data for part in column.buffers]
            buffers = (ctypes.c_void_p * len(addresses))(*addresses)
            keep += [buffers, *column.buffers]
            child.length, child.null_count = column.length, column.null_count
            child.n_buffers, child.buffers = len(addresses), ctypes.addressof(buffers)
            child.release = _address(_release_child)
        pointers = (ctypes.c_void_p * len(children))(*(ctypes.addressof(c) for c in children))
        validity = (ctypes.c_void_p * 1)(None)
        keep += [pointers, validity]
        self._batch_number += 1
        self._live[self._batch_number] = keep
        out.length, out.null_count, out.offset = columns[0].length, 0, 0
        out.n_buffers, out.buffers = 1, ctypes.addressof(validity)
        out.n_children, out.children = len(children), ctypes.addressof(pointers)
        out.dictionary, out.private_data = None, self._batch_number
        out.release = _address(self._callbacks[4])

    def _release_batch(self, array: ctypes._Pointer) -> None:
        self._live.pop(array.contents.private_data, None)
        array.contents.release = None

    def _get_last_error(self, _stream: int) -> int:
        return ctypes.addressof(self._message)

    def _release(self, _stream: int) -> None:
        self._stream.release = None
        self._live.clear()


def write_empty_gpkg(dataset: Dataset, path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {name: [] for name in static_columns(dataset)}, geometry=gpd.GeoSeries([], crs="EPSG:4326")
    )
    pyogrio.write_dataframe(
        frame,
        path,
        layer=dataset.slug,
        driver="GPKG",
        geometry_type="Point",
        layer_metadata=layer_metadata(dataset),
    )


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
    grid as a Cloud Optimized GeoTIFF. Only cells with a visible point carry a value: the
    mean of their points' velocities (one point a cell in an EGMS L3)."""
    if dataset.level != Level.L3:
        raise ExportError("GeoTIFF exports are for L3 (gridded) datasets only.")
    size = float(dataset.grid_size_m or 100)
    means = CellMeans()
    count = 0
    for chunk in stream_points(points, dataset, with_series=False, with_extras=False):
        means.add(grid_indices(chunk.longitude, chunk.latitude, size), chunk.attributes["velocity"])
        count += len(chunk)
        if progress:
            progress(count)
    write_grid(path, means, size, dataset)
    return ExportResult(point_count=count, byte_count=path.stat().st_size)


class CellMeans:
    """Velocity sums and point counts per cell, added chunk by chunk on a grid that grows to
    take each chunk's cells: memory is 8 bytes a cell of the grid (about 1.5 times the cells'
    bounding box at worst), whatever the number of points.

    Rows are indexed by minus the northing index, so that they run north to south as the
    GeoTIFF's do."""

    def __init__(self) -> None:
        self.top_left = np.zeros(2, dtype=np.int64)  # (-northing index, column) of [0, 0]
        self.sums = np.zeros((0, 0), dtype=np.float32)
        self.counts = np.zeros((0, 0), dtype=np.uint32)
        self.low: np.ndarray | None = None  # the cells' bounding box, inclusive
        self.high: np.ndarray | None = None

    def add(self, cell: np.ndarray, velocity: np.ndarray) -> None:
        if not len(cell):
            return
        place = np.column_stack([-cell[:, 1], cell[:, 0]])
        low, high = place.min(axis=0), place.max(axis=0)
        self.low = low if self.low is None else np.minimum(self.low, low)
        self.high = high if self.high is None else np.maximum(self.high, high)
        self._cover(low, high)
        finite = np.isfinite(velocity)
        index = place[finite] - self.top_left
        # Points sharing a cell summed first (np.add.at is four times slower).
        cells, inverse = np.unique(
            index[:, 0] * self.sums.shape[1] + index[:, 1], return_inverse=True
        )
        self.sums.reshape(-1)[cells] += np.bincount(inverse, weights=velocity[finite])
        self.counts.reshape(-1)[cells] += np.bincount(inverse).astype(np.uint32)

    def _cover(self, low: np.ndarray, high: np.ndarray) -> None:
        """Grow the arrays to hold [low, high]; by half their size at least on a side that
        grows, so that points in any order cost a few copies, not one per chunk."""
        shape = np.array(self.sums.shape)
        end = self.top_left + shape
        if not self.sums.size:
            start, stop = low, high + 1
        elif (low >= self.top_left).all() and (high < end).all():
            return
        else:
            slack = shape // 2
            start = np.where(
                low < self.top_left, np.minimum(low, self.top_left - slack), self.top_left
            )
            stop = np.where(high >= end, np.maximum(high + 1, end + slack), end)
        offset = self.top_left - start
        window = (slice(offset[0], offset[0] + shape[0]), slice(offset[1], offset[1] + shape[1]))
        sums = np.zeros(stop - start, dtype=np.float32)
        counts = np.zeros(stop - start, dtype=np.uint32)
        sums[window], counts[window] = self.sums, self.counts
        self.top_left, self.sums, self.counts = start, sums, counts

    def take_raster(self) -> tuple[np.ndarray, int, int]:
        """The mean velocity on the cells' bounding box (float32, NaN where no point) and
        the (column, northing index) of its top-left cell. Divides in place, and frees the
        counts before cropping, so that at most two grids and a byte mask are held."""
        if self.low is None:  # no point: one empty cell at the origin
            return np.full((1, 1), np.nan, dtype=np.float32), 0, 0
        sums, counts = self.sums, self.counts
        self.sums = self.counts = None
        empty = counts == 0
        counts[empty] = 1
        np.divide(sums, counts, out=sums)
        del counts
        sums[empty] = np.nan
        del empty
        first, last = self.low - self.top_left, self.high - self.top_left + 1
        raster = np.ascontiguousarray(sums[first[0] : last[0], first[1] : last[1]])
        return raster, int(self.low[1]), int(-self.low[0])


# GDAL's COG driver: tiles of 512 px, DEFLATE with the floating-point predictor, and
# overviews (for grids over 512 px on a side) that average the cells they cover; GDAL's
# AVERAGE leaves the NaN nodata cells out of each mean, so an overview cell is the mean of
# the cells with data beneath it, and NaN only where there are none.
COG_BLOCK = 512
COG_OPTIONS = {
    "COMPRESS": "DEFLATE",
    "PREDICTOR": "YES",
    "BLOCKSIZE": COG_BLOCK,
    "OVERVIEWS": "AUTO",
    "OVERVIEW_RESAMPLING": "AVERAGE",
}
VELOCITY_UNIT = "mm/yr"


def write_grid(path: Path, means: CellMeans, size: float, dataset: Dataset) -> None:
    """Write the cell means to path as a Cloud Optimized GeoTIFF (EPSG:3035, float32, NaN
    nodata, the band's description and unit, the dataset's words in the metadata).

    GDAL's COG driver copies from a source dataset: the grid goes first to an in-memory
    (MEM) dataset, in strips (a whole-array write holds a third copy for a moment), and the
    array is dropped before the copy; the driver writes its overviews to a temporary file
    beside path. At most two copies of the grid are held (measured on a 4000 x 4000 grid of
    61 MB: about 2.2 times that at most, from the sums and counts to the finished file)."""
    raster, first_column, top_row = means.take_raster()
    height, width = raster.shape
    profile = {
        "driver": "MEM",
        "height": height,
        "width": width,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:3035",
        "transform": Affine(size, 0, first_column * size, 0, -size, (top_row + 1) * size),
        "nodata": np.nan,
    }
    with rasterio.open("", "w", **profile) as source:
        for top in range(0, height, COG_BLOCK):
            rows = min(COG_BLOCK, height - top)
            source.write(raster[top : top + rows], 1, window=Window(0, top, width, rows))
        del raster
        source.set_band_description(1, band_description(dataset))
        source.set_band_unit(1, VELOCITY_UNIT)
        source.update_tags(1, **band_tags(dataset))
        source.update_tags(**grid_tags(dataset, size))
        rasterio.shutil.copy(source, path, driver="COG", **COG_OPTIONS)


def band_tags(dataset: Dataset) -> dict[str, str]:
    """The band's metadata: what it measures, in which unit and sign."""
    words = quantity(dataset)
    return {
        "units": VELOCITY_UNIT,
        "quantity": f"mean velocity, {words['short']}",
        "component": words["component"],
        "sign_convention": words["sign_convention"],
    }


def grid_tags(dataset: Dataset, size: float) -> dict[str, str]:
    """The file's metadata: the dataset, its level, period and grid, its EGMS release (an
    ingested EGMS file's name) and, for a decomposition, the tracks it was solved from."""
    dates = dataset.acquisition_dates or []
    tags = {
        "dataset": dataset.name,
        "slug": dataset.slug,
        "level": level_label(dataset.level),
        "grid_size_m": f"{size:g}",
    }
    if dates:
        tags |= {"first_date": dates[0].isoformat(), "last_date": dates[-1].isoformat()}
    parts = (dataset.provenance or {}).get("name_parts") or {}
    if parts.get("first") and parts.get("last"):
        tags["product_release"] = f"{parts['first']}_{parts['last']}"
    if parts.get("version"):
        tags["product_version"] = str(parts["version"])
    if parts.get("tile"):
        tags["egms_tile"] = str(parts["tile"]).upper()
    return tags | source_track_tags(dataset)


def source_track_tags(dataset: Dataset) -> dict[str, str]:
    """For a decomposed L3: the ascending and descending datasets and their tracks."""
    provenance = dataset.provenance or {}
    if provenance.get("step") != "decompose":
        return {}
    slugs = {
        name: provenance.get("parameters", {}).get(name) for name in ("ascending", "descending")
    }
    found = {d.slug: d for d in Dataset.objects.filter(slug__in=[s for s in slugs.values() if s])}
    tags = {}
    for name, slug in slugs.items():
        source = found.get(slug)
        if slug:
            tags[f"{name}_dataset"] = source.name if source else slug
        if source and source.relative_orbit is not None:
            tags[f"{name}_track"] = str(source.relative_orbit)
    return tags


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
