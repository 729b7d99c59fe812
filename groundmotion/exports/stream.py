"""The points an export writes, in numpy chunks: one binary COPY (storage/copy_out.py).

Series come as float32 mm (NaN where missing); the stored extras (PointExtra: float64 per name
in dataset.extra_columns) by name, NaN where a point has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from django.db.models import QuerySet

from groundmotion.models import Dataset, MeasurementPoint
from groundmotion.storage import copy_out
from groundmotion.storage.copy_out import PID_BYTES
from groundmotion.storage.tables import POINT_FLOAT_COLUMNS

CHUNK_ROWS = 20_000


@dataclass
class PointChunk:
    """A block of exported points. Units as stored: degrees, mm, mm/yr, metres."""

    ids: np.ndarray
    pids: np.ndarray
    longitude: np.ndarray
    latitude: np.ndarray
    attributes: dict[str, np.ndarray]
    series: np.ndarray | None  # points x dates, float32 mm; None when not requested
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # float64 by stored name
    pid_bytes: np.ndarray | None = None  # (points, PID_BYTES) uint8, UTF-8 NUL-padded

    def __len__(self) -> int:
        return len(self.ids)


def to_chunk(rows: np.ndarray, with_series: bool, extra_names: list[str]) -> PointChunk:
    pids = np.char.decode(rows["pid"], "utf-8")
    extras = rows["extras"].astype(np.float64) if extra_names else None
    return PointChunk(
        ids=rows["id"].astype(np.int64),
        pids=pids,
        longitude=rows["lon"].astype(np.float64),
        latitude=rows["lat"].astype(np.float64),
        attributes={name: rows[name].astype(np.float32) for name in POINT_FLOAT_COLUMNS},
        series=copy_out.decode_float32_series(rows["series"], (rows["series"].shape[1] - 1) // 4)
        if with_series
        else None,
        extras={name: extras[:, i] for i, name in enumerate(extra_names)} if extra_names else {},
        pid_bytes=np.ascontiguousarray(rows["pid"]).view(np.uint8).reshape(len(rows), PID_BYTES),
    )


def stream_points(
    points: QuerySet[MeasurementPoint],
    dataset: Dataset,
    *,
    with_series: bool = True,
    with_extras: bool = True,
    chunk_rows: int | None = None,
) -> Iterator[PointChunk]:
    """Yield the points of the queryset (ordered by id) in chunks of about chunk_rows
    (CHUNK_ROWS, read at each call)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    date_count = len(dataset.acquisition_dates) if with_series else None
    extra_names = list(dataset.extra_columns) if with_extras else []
    dtype = copy_out.export_row_dtype(date_count, len(extra_names))
    query, params = copy_out.export_sql(points, dataset.pk, date_count, len(extra_names))
    for rows in copy_out.stream_binary(query, params, dtype, chunk_rows):
        yield to_chunk(rows, with_series, extra_names)


ProgressCallback = Callable[[int], None]
