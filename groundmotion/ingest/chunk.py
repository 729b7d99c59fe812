"""One block of parsed points, as the loader takes them, and its checks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from groundmotion.ingest.errors import IngestError


@dataclass
class Chunk:
    """Points of one block. lon/lat WGS84 degrees; attributes by MeasurementPoint field;
    extras (float64) by EGMS name; series float32 mm (points x dates) or None."""

    pids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    attributes: dict[str, np.ndarray]
    extras: dict[str, np.ndarray]
    series: np.ndarray | None
    lines: np.ndarray  # the file line of each point (header is line 1)
    path: str = ""
    location_columns: tuple[str, str] = ("longitude", "latitude")
    ignored: list[str] = field(default_factory=list)
    # Its COPY rows (ingest.loader.ChunkRows), packed in the parser process, which then drops
    # `series`: the packed rows carry it. A selection selects them too.
    packed: object | None = None

    def __len__(self) -> int:
        return len(self.pids)

    def select(self, keep: np.ndarray) -> Chunk:
        """The points where keep is True."""
        return Chunk(
            self.pids[keep],
            self.lon[keep],
            self.lat[keep],
            {name: values[keep] for name, values in self.attributes.items()},
            {name: values[keep] for name, values in self.extras.items()},
            None if self.series is None else self.series[keep],
            self.lines[keep],
            self.path,
            self.location_columns,
            self.ignored,
            None if self.packed is None else self.packed.select(keep),
        )


def check_chunk(chunk: Chunk) -> None:
    """Raise IngestError at the first empty pid, duplicate pid or out-of-range location."""
    empty = np.flatnonzero(np.char.str_len(chunk.pids.astype(str)) == 0)
    if len(empty):
        raise IngestError(chunk.path, "empty pid", line=int(chunk.lines[empty[0]]), column="pid")
    _check_duplicates(chunk)
    lon_name, lat_name = chunk.location_columns
    _check_range(chunk, chunk.lat, -90, 90, lat_name, "latitude")
    _check_range(chunk, chunk.lon, -180, 180, lon_name, "longitude")


def _check_duplicates(chunk: Chunk) -> None:
    order = np.argsort(chunk.pids, kind="stable")
    ordered = chunk.pids[order]
    repeated = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(repeated):
        first, second = order[repeated[0]], order[repeated[0] + 1]
        raise IngestError(
            chunk.path,
            f"duplicate pid {str(chunk.pids[second])!r} (first seen at line {chunk.lines[first]})",
            line=int(chunk.lines[second]),
            column="pid",
        )


def _check_range(
    chunk: Chunk, values: np.ndarray, low: float, high: float, column: str, what: str
) -> None:
    bad = np.flatnonzero(~((values >= low) & (values <= high)))
    if len(bad):
        value = values[bad[0]]
        problem = "missing" if np.isnan(value) else f"{value} out of range [{low}, {high}]"
        raise IngestError(
            chunk.path, f"{what} {problem}", line=int(chunk.lines[bad[0]]), column=column
        )


def spatial_order(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """A Z-order (Morton) permutation: neighbours in space become neighbours in the COPY, so
    the GiST index and the table pages are touched with locality."""
    keys = np.zeros(len(lon), dtype=np.uint64)
    if not len(lon):
        return keys.astype(np.intp)
    scaled = []
    for values in (lon, lat):
        low, span = float(np.nanmin(values)), float(np.nanmax(values) - np.nanmin(values))
        quantised = np.nan_to_num((values - low) / (span or 1.0) * 65535).astype(np.uint64)
        scaled.append(quantised)
    for bit in range(16):
        for axis, values in enumerate(scaled):
            keys |= ((values >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit + axis)
    return np.argsort(keys, kind="stable")
