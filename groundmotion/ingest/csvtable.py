"""Streaming reader of EGMS-style point tables (CSV, comma or semicolon delimited).

Blocks of whole lines go to fastcsv's numba parser when every column is known and nothing is
quoted, and to the pandas C parser otherwise (quotes, or unknown columns whose kind is decided
from the first block). A block that fails is re-read with a careful pass over that block only,
which names the exact line and column. Memory is bounded by the block size, whatever the file
size.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from typing import IO

import numpy as np
import pandas as pd
from pyproj import Transformer

from groundmotion import egms
from groundmotion.ingest import fastcsv
from groundmotion.ingest.chunk import Chunk
from groundmotion.ingest.errors import IngestError
from groundmotion.ingest.layout import Layout, resolve_layout
from groundmotion.ingest.sources import read_blocks, read_bytes

BLOCK_BYTES = 8 * 1024 * 1024
# The key of a block's series matrix (dates as float32 columns) among its columns by position.
SERIES = "series"
NULL_TEXT = {"", "nan", "NaN", "NA", "null", "NULL"}
FAST_PROBLEMS = {
    fastcsv.RAGGED_SHORT: "ragged row: fewer fields than the header (truncated file?)",
    fastcsv.RAGGED_LONG: "ragged row: more fields than the header",
    fastcsv.NOT_A_NUMBER: "not a number",
}
_TO_WGS84 = Transformer.from_crs(egms.PROJECTED_CRS, "EPSG:4326", always_xy=True)


def read_header(stream: IO[bytes], path: str) -> tuple[list[str], str, bytes]:
    """(column names, delimiter, bytes read past the header line)."""
    first = read_bytes(stream, path, 64 * 1024)
    while first and b"\n" not in first:
        more = read_bytes(stream, path, 64 * 1024)
        if not more:
            break
        first += more
    text, _, rest = first.partition(b"\n")
    if not text.strip():
        raise IngestError(path, "empty file" if not first.strip() else "empty header", line=1)
    header = text.decode("utf-8-sig").rstrip("\r")
    delimiter = ";" if header.count(";") > header.count(",") else ","
    return [name.strip() for name in header.split(delimiter)], delimiter, rest


class CsvTable:
    """Iterate a point table's chunks once the header has been resolved."""

    def __init__(self, stream: IO[bytes], path: str, mapping: dict[str, str]) -> None:
        self.stream, self.path = stream, path
        names, self.delimiter, self.rest = read_header(stream, path)
        self.layout: Layout = resolve_layout(names, mapping, path)
        self.ignored: list[str] = []
        self._decided = False

    @property
    def dates(self) -> list:
        return self.layout.dates

    def chunks(self) -> Iterator[Chunk]:
        """Parsed, checked chunks; raises IngestError at the first bad line."""
        line = 2
        rows = 0
        for block in self._blocks():
            columns, lines = self._parse(block, line)
            line += block.count(b"\n")
            if len(lines):
                rows += len(lines)
                yield self._to_chunk(columns, lines)
        if rows == 0:
            raise IngestError(self.path, "the header has no data rows", line=2)

    def _blocks(self) -> Iterator[bytes]:
        first = True
        for block in read_blocks(self.stream, self.path, BLOCK_BYTES):
            if first and self.rest:
                block, first = self.rest + block, False
            elif first:
                first = False
            yield block
        if first and self.rest.strip():
            yield self.rest

    def _parse(self, block: bytes, first_line: int) -> tuple[dict, np.ndarray]:
        """(file column -> values, file line of each row) for one block."""
        if not self.layout.unknown and b'"' not in block:
            return self._parse_fast(block, first_line)
        frame, lines = self._parse_pandas(block, first_line)
        if not self._decided:
            self._decide_unknown(frame)
        return {position: frame[position] for position in frame.columns}, lines

    def _parse_fast(self, block: bytes, first_line: int) -> tuple[dict, np.ndarray]:
        numeric = self.layout.numeric_columns()
        targets = np.full(len(self.layout.names), fastcsv.TEXT, dtype=np.int64)
        targets[numeric] = np.arange(len(numeric))
        values, starts, ends, row_line, status, line, column = fastcsv.parse(
            block, self.delimiter, targets, len(numeric)
        )
        if status != fastcsv.OK:
            locate_error(block, first_line, self.layout, self.delimiter, self.path)
            label = self.layout.column_label(column)
            problem = FAST_PROBLEMS[status]
            raise IngestError(self.path, problem, line=first_line + line, column=label)
        pid_slot = int((targets[: self.layout.pid] == fastcsv.TEXT).sum())
        pids = [block[s:e] for s, e in zip(starts[:, pid_slot], ends[:, pid_slot], strict=True)]
        columns: dict = {position: values[:, i] for i, position in enumerate(numeric)}
        columns[self.layout.pid] = _decode(np.array(pids, dtype=bytes))
        slots = [numeric.index(position) for position in self.layout.date_columns]
        if slots and slots == list(range(slots[0], slots[0] + len(slots))):
            # Optimization: one cast of a slice, 15x faster than stacking 170 strided columns.
            columns[SERIES] = values[:, slots[0] : slots[-1] + 1].astype(np.float32)
        return columns, first_line + row_line

    def _parse_pandas(self, block: bytes, first_line: int) -> tuple[pd.DataFrame, np.ndarray]:
        width = len(self.layout.names)
        newlines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        # Every row has width - 1 delimiters. Otherwise: a ragged row, or blank or quoted
        # lines; the careful pass tells which, and line numbers are then counted exactly.
        clean = block.count(self.delimiter.encode()) == newlines * (width - 1)
        if not clean:
            locate_error(block, first_line, self.layout, self.delimiter, self.path)
        try:
            frame = pd.read_csv(
                io.BytesIO(block),
                sep=self.delimiter,
                header=None,
                names=range(width),
                dtype=self._dtypes(),
                engine="c",
                na_values=list(NULL_TEXT),
                keep_default_na=False,
                skip_blank_lines=True,
            )
        except (ValueError, pd.errors.ParserError) as error:
            locate_error(block, first_line, self.layout, self.delimiter, self.path)
            raise IngestError(self.path, f"unreadable lines ({error})", line=first_line) from None
        lines = first_line + np.arange(len(frame))
        if not clean:
            lines = _line_numbers(block, first_line)
        return frame, lines

    def _dtypes(self) -> dict[int, object]:
        types: dict[int, object] = dict.fromkeys(self.layout.numeric_columns(), np.float64)
        types.update(dict.fromkeys(self.layout.date_columns, np.float32))
        types[self.layout.pid] = object
        types.update(dict.fromkeys(self.layout.unknown, object))
        return types

    def _decide_unknown(self, frame: pd.DataFrame) -> None:
        """Keep numeric unknown columns as extras; report the others as ignored."""
        for position, name in self.layout.unknown.items():
            values = frame[position]
            numeric = pd.to_numeric(values, errors="coerce")
            if bool((numeric.isna() & values.notna()).any()):
                self.ignored.append(self.layout.names[position])
            else:
                self.layout.extras[position] = name
        self.layout.unknown = {}
        self._decided = True

    def _to_chunk(self, columns: dict, lines: np.ndarray) -> Chunk:
        layout = self.layout
        location = [_numeric(columns[layout.location[name]]) for name in layout.location]
        if layout.projected:
            lon, lat = _TO_WGS84.transform(location[0], location[1])
        else:
            lat, lon = location
        series = columns.get(SERIES)
        if series is None and layout.date_columns:
            series = np.column_stack([columns[i] for i in layout.date_columns]).astype(np.float32)
        pids = pd.Series(columns[layout.pid]).fillna("").to_numpy(dtype=str)
        names = [layout.names[i] for i in layout.location.values()]
        return Chunk(
            pids=np.char.strip(pids),
            lon=np.asarray(lon),
            lat=np.asarray(lat),
            attributes={f: _numeric(columns[i]) for i, f in layout.fields.items()},
            extras={n: _numeric(columns[i]) for i, n in layout.extras.items()},
            series=series,
            lines=lines,
            path=self.path,
            location_columns=(names[1], names[0]) if not layout.projected else (names[0], names[1]),
            ignored=self.ignored,
        )


def _decode(raw: np.ndarray) -> np.ndarray:
    """UTF-8 bytes to str; the ASCII cast first, 3x faster than np.char.decode."""
    try:
        return raw.astype(str)
    except UnicodeDecodeError:
        return np.char.decode(raw, "utf-8")


def _numeric(values: pd.Series | np.ndarray) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values
    return pd.to_numeric(values, errors="coerce").to_numpy(np.float64)


def _line_numbers(block: bytes, first_line: int) -> np.ndarray:
    lines = block.split(b"\n")
    return np.array(
        [first_line + i for i, text in enumerate(lines) if text.strip()], dtype=np.int64
    )


def locate_error(block: bytes, first_line: int, layout: Layout, delimiter: str, path: str) -> None:
    """The careful pass: raise IngestError at the first ragged row or non-numeric value."""
    numeric = set(layout.numeric_columns())
    text = io.StringIO(block.decode("utf-8", errors="replace"), newline="")
    for offset, row in enumerate(csv.reader(text, delimiter=delimiter)):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        line = first_line + offset
        if len(row) != len(layout.names):
            raise IngestError(
                path,
                f"ragged row: {len(row)} fields where the header has {len(layout.names)}"
                + (" (truncated file?)" if len(row) < len(layout.names) else ""),
                line=line,
            )
        for position in numeric:
            _check_number(row[position], path, line, layout.column_label(position))


def _check_number(value: str, path: str, line: int, column: str) -> None:
    value = value.strip()
    if value in NULL_TEXT:
        return
    try:
        number = float(value)
    except ValueError:
        raise IngestError(path, f"not a number: {value!r}", line=line, column=column) from None
    if math.isinf(number):
        raise IngestError(path, f"infinite value: {value!r}", line=line, column=column)
