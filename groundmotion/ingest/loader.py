"""Load point products into one dataset: all files in one transaction, streamed by chunks.

1. open each file (CSV, ZIP, GeoPackage, Shapefile) and resolve its columns;
2. create the dataset (or empty it with --replace) from the first file's description;
3. per chunk: check, drop pids an earlier file already loaded, COPY points, series, extras;
4. refresh the dataset's count, extent and version. Any error rolls everything back.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from django.db import IntegrityError, transaction

from groundmotion.ingest.chunk import Chunk, check_chunk, spatial_order
from groundmotion.ingest.csvtable import CsvTable
from groundmotion.ingest.describe import Description, describe
from groundmotion.ingest.errors import IngestError
from groundmotion.ingest.prefetch import prefetch
from groundmotion.ingest.sources import open_table
from groundmotion.ingest.vector import VECTOR_SUFFIXES, VectorLayer
from groundmotion.models import Dataset
from groundmotion.storage import copy_in, partitions, queries

DUPLICATE_KEY = re.compile(
    r"\(dataset_id, pid\)=\(\d+, (?P<pid>.*)\) (already exists|is duplicated)"
)


@dataclass
class IngestOptions:
    slug: str
    name: str = ""
    level: str | None = None
    pass_direction: str | None = None
    component: str | None = None
    replace: bool = False
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass
class IngestReport:
    dataset: Dataset | None = None
    points: int = 0
    files: list[str] = field(default_factory=list)
    skipped_duplicates: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0


@contextlib.contextmanager
def open_points(path: Path, mapping: dict[str, str]) -> Iterator[Any]:
    """A CsvTable or VectorLayer for the file."""
    if path.suffix.lower() in VECTOR_SUFFIXES:
        yield VectorLayer(path, mapping)
        return
    with open_table(path) as (stream, header):
        table = CsvTable(stream, str(path), mapping)
        table.header = header
        yield table


def ingest(paths: list[Path], options: IngestOptions) -> IngestReport:
    """Load the files into dataset `options.slug`, whole or not at all."""
    started = time.perf_counter()
    report = IngestReport()
    # The stack closes after the transaction: a staged table is dropped only once the
    # rolled-back transaction has let go of it.
    with contextlib.ExitStack() as stack, transaction.atomic():
        loader = Loader(options, report, stack)
        for path in paths:
            loader.load_file(path)
        loader.finish()
    report.seconds = time.perf_counter() - started
    return report


class Loader:
    def __init__(
        self, options: IngestOptions, report: IngestReport, stack: contextlib.ExitStack
    ) -> None:
        self.options, self.report, self.stack = options, report, stack
        self.dataset: Dataset | None = None
        # A new dataset is loaded into a staged table (groundmotion/storage/partitions.py) whose
        # indexes are built at the end; a reload writes through the points table.
        self.staged: partitions.StagedPoints | None = None
        self.ids = IdPool()

    def load_file(self, path: Path) -> None:
        label = str(path)
        with open_points(path, self.options.mapping) as table:
            chunks = prefetch(prepared(table.chunks()), depth=1)
            first = next(chunks)
            if self.dataset is None:
                self.dataset = self._create(path, table, first)
            else:
                self._index_pids()  # later files look up the pids already loaded
            self._check_dates(table, label)
            first_id, last = None, first
            for chunk in _chain(first, chunks):
                ids = self._load_chunk(chunk, first_id)
                if first_id is None and len(ids):
                    first_id = int(ids[0])
                last = chunk
            # The parser process kept the table's list of ignored columns: take the last copy.
            table.ignored = last.ignored
            self._note_file(path, table)

    def _create(self, path: Path, table: Any, first: Chunk) -> Dataset:
        projected = bool(getattr(getattr(table, "layout", None), "projected", False))
        description = describe(path, first, vars(self.options), projected)
        dataset, created = prepare_dataset(self.options, description)
        if created:
            self.staged = self.stack.enter_context(partitions.StagedPoints())
        dataset.acquisition_dates = list(table.dates)
        dataset.reference_date = dataset.acquisition_dates[0] if dataset.acquisition_dates else None
        dataset.extra_columns = list(first.extras)
        dataset.provenance = {"source": "ingest", "files": [], "name_parts": description.name_parts}
        dataset.metadata = {"headers": {}}
        return dataset

    def _check_dates(self, table: Any, label: str) -> None:
        dates = list(table.dates)
        if dates != list(self.dataset.acquisition_dates):
            raise IngestError(
                label,
                f"its {len(dates)} dates differ from the first file's "
                f"{len(self.dataset.acquisition_dates)}: load them into another dataset",
                line=1,
            )

    def _load_chunk(self, chunk: Chunk, file_first_id: int | None) -> np.ndarray:
        if self.report.files:
            chunk = self._drop_loaded(chunk, file_first_id)
        rows = chunk.packed
        rows.pack_points(chunk)
        if rows.extra_names != self.dataset.extra_columns:
            rows = rows.with_extras(chunk, self.dataset.extra_columns)
        ids = self.ids.take(len(chunk), self.dataset.pk)
        if not len(ids):
            return ids
        try:
            points = rows.points.fill(ids, self.dataset.pk)
            copy_in.copy_point_rows(self.dataset.pk, [points], self.staged, tag=chunk)
        except (IntegrityError, psycopg.errors.UniqueViolation) as error:
            raise _duplicate_error(self._failed_chunk(chunk), error) from None
        # Into the dataset's own series and extras tables during a load (claimed just above).
        if rows.series is not None:
            table = partitions.dependent_table(copy_in.SERIES_TABLE, ids)
            copy_in.copy_rows(table, copy_in.SERIES_COLUMNS, [rows.series.fill(ids)])
        if rows.extras is not None:
            table = partitions.dependent_table(copy_in.EXTRA_TABLE, ids)
            copy_in.copy_rows(table, copy_in.EXTRA_COLUMNS, [rows.extras.fill(ids)])
        self.report.points += len(ids)
        return ids

    def _wait_staged(self, chunk: Chunk | None) -> None:
        """Wait for the staged points COPYs; a duplicate pid there is reported at its line."""
        if self.staged is None:
            return
        try:
            self.staged.wait()
        except psycopg.errors.UniqueViolation as error:
            raise _duplicate_error(self._failed_chunk(chunk), error) from None

    def _failed_chunk(self, chunk: Chunk) -> Chunk:
        """The chunk whose COPY failed: this one, or an earlier one COPYed in the background."""
        return self.staged.error_tag if self.staged and self.staged.error_tag else chunk

    def _drop_loaded(self, chunk: Chunk, file_first_id: int | None) -> Chunk:
        """Skip points an earlier file (an overlapping burst) already loaded."""
        self._wait_staged(chunk)  # every earlier chunk in the table
        table = copy_in.POINT_TABLE if self.staged is None else self.staged.table
        found = queries.point_ids_of_pids(table, self.dataset, chunk.pids.tolist())
        for pid, point_id in found.items():
            if file_first_id is not None and point_id >= file_first_id:
                line = int(chunk.lines[np.flatnonzero(chunk.pids == pid)[0]])
                raise IngestError(
                    chunk.path,
                    f"duplicate pid {pid!r} (also at an earlier line)",
                    line=line,
                    column="pid",
                )
        keep = ~np.isin(chunk.pids, list(found))
        self.report.skipped_duplicates += int((~keep).sum())
        return chunk.select(keep)

    def _note_file(self, path: Path, table: Any) -> None:
        self.report.files.append(str(path))
        self.dataset.provenance["files"].append(path.name)
        header = getattr(table, "header", None)
        if header:
            self.dataset.metadata["headers"][path.name] = header
        for name in table.ignored:
            if name not in self.report.ignored_columns:
                self.report.ignored_columns.append(name)

    def _index_pids(self) -> None:
        """Build the staged table's pid index; a duplicate pid is reported at its line."""
        if self.staged is None or self.staged.pids_indexed:
            return
        try:
            self.staged.index_pids()
        except psycopg.errors.UniqueViolation as error:
            raise self._locate_duplicate(error) from None

    def _locate_duplicate(self, error: Exception) -> IngestError:
        """The error for a pid repeated across blocks of the files loaded before the index:
        read them again (only on this error path) for the line of its second occurrence."""
        match = DUPLICATE_KEY.search(str(error))
        pid = match["pid"] if match else "?"
        for path in self.report.files:
            seen = False
            with open_points(Path(path), self.options.mapping) as table:
                for chunk in table.chunks():
                    where = np.flatnonzero(chunk.pids == pid)
                    if len(where) > (0 if seen else 1):
                        return _duplicate_error(chunk.select(where[1 - seen :]), error)
                    seen = seen or bool(len(where))
        return IngestError(self.report.files[0], f"duplicate pid {pid!r}", column="pid")

    def finish(self) -> None:
        dataset = self.dataset
        self._wait_staged(None)
        self._index_pids()
        dataset.provenance["ignored_columns"] = self.report.ignored_columns
        dataset.provenance["skipped_duplicates"] = self.report.skipped_duplicates
        dataset.save(
            update_fields=[
                "acquisition_dates",
                "reference_date",
                "extra_columns",
                "provenance",
                "metadata",
            ]
        )
        copy_in.finish_load(dataset, self.staged)
        self.report.dataset = dataset


class IdPool:
    """Point ids drawn from the sequence in batches: one round trip per ~30 chunks, not one
    per chunk. The ids left over at the end are a gap in the sequence, nothing more. One
    dataset's ids (storage/point_ids.py): a pool serves one load."""

    BATCH = 250_000

    def __init__(self) -> None:
        self.ids = np.empty(0, dtype=np.int64)

    def take(self, count: int, dataset_id: int) -> np.ndarray:
        if len(self.ids) < count:
            fresh = copy_in.reserve_point_ids(max(count - len(self.ids), self.BATCH), dataset_id)
            self.ids = np.concatenate([self.ids, fresh])
        taken, self.ids = self.ids[:count], self.ids[count:]
        return taken


@dataclass
class ChunkRows:
    """A chunk's binary COPY rows (copy_in.PackedRows), to be filled with ids and dataset.

    Series and extras are packed in the parser process (packed, the series cross the pipe at
    half their float32 size); points in the loader's, which would otherwise wait for the
    parser: the two processes then take about equal shares of the work.
    """

    points: copy_in.PackedRows | None
    series: copy_in.PackedRows | None
    extras: copy_in.PackedRows | None
    extra_names: list[str]

    @classmethod
    def pack_series(cls, chunk: Chunk) -> ChunkRows:
        """Rows of the series and extras; points to `pack_points`."""
        series = chunk.series if chunk.series is not None and chunk.series.shape[1] else None
        rows = cls(None, None if series is None else copy_in.pack_series(series), None, [])
        return rows.with_extras(chunk, list(chunk.extras))

    def pack_points(self, chunk: Chunk) -> None:
        self.points = copy_in.pack_points(chunk.pids, chunk.lon, chunk.lat, chunk.attributes)

    def with_extras(self, chunk: Chunk, names: list[str]) -> ChunkRows:
        """These rows with extras in the order of `names`, NaN where the chunk lacks one."""
        missing = np.full(len(chunk), np.nan)
        columns = [chunk.extras.get(name, missing) for name in names]
        extras = copy_in.pack_extras(np.column_stack(columns)) if columns else None
        return ChunkRows(self.points, self.series, extras, list(names))

    def select(self, keep: np.ndarray) -> ChunkRows:
        def pick(rows: copy_in.PackedRows | None) -> copy_in.PackedRows | None:
            return None if rows is None else rows.select(keep)

        return ChunkRows(pick(self.points), pick(self.series), pick(self.extras), self.extra_names)


def prepared(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """Checked chunks in Z-order with their series rows packed (in the parser process, off
    the COPY's critical path: on two cores PostgreSQL takes one block while it does the next)."""
    for chunk in chunks:
        check_chunk(chunk)
        chunk = chunk.select(spatial_order(chunk.lon, chunk.lat))
        chunk.packed = ChunkRows.pack_series(chunk)
        chunk.series = None  # in the packed rows: not sent through the pipe twice
        yield chunk


def _chain(first: Chunk, rest: Iterator[Chunk]) -> Iterator[Chunk]:
    yield first
    yield from rest


def _duplicate_error(chunk: Chunk, error: Exception) -> IngestError:
    match = DUPLICATE_KEY.search(str(error))
    pid = match["pid"] if match else "?"
    where = np.flatnonzero(chunk.pids == pid)
    line = int(chunk.lines[where[0]]) if len(where) else None
    return IngestError(
        chunk.path, f"duplicate pid {pid!r} (also at an earlier line)", line=line, column="pid"
    )


def prepare_dataset(options: IngestOptions, description: Description) -> tuple[Dataset, bool]:
    """(A new dataset, True), or with --replace (the existing one emptied, False): its
    settings are kept."""
    fields = {
        "level": description.level,
        "pass_direction": description.pass_direction,
        "component": description.component,
        "relative_orbit": description.relative_orbit,
        "grid_size_m": description.grid_size_m,
    }
    existing = Dataset.objects.select_for_update().filter(slug=options.slug).first()
    if existing is None:
        created = Dataset.objects.create(
            slug=options.slug, name=options.name or options.slug, **fields
        )
        return created, True
    if not options.replace:
        raise IngestError(options.slug, "the dataset exists: give --replace to reload it")
    partitions.delete_points(existing.pk)
    for name, value in fields.items():
        setattr(existing, name, value)
    existing.name = options.name or existing.name
    existing.save(update_fields=[*fields, "name"])
    return existing, False
