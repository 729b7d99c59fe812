"""Point layers of GeoPackages and Shapefiles (through pyogrio), read in slices of features."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyogrio

from groundmotion import egms
from groundmotion.ingest.chunk import Chunk
from groundmotion.ingest.errors import IngestError
from groundmotion.ingest.layout import canonical_name

VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".fgb")
FEATURES_PER_CHUNK = 100_000


class VectorLayer:
    """The point features of one layer, attributes mapped to EGMS names; no series."""

    def __init__(self, path: Path, mapping: dict[str, str], layer: str | None = None) -> None:
        self.path, self.label, self.layer = path, str(path), layer
        try:
            info = pyogrio.read_info(path, layer=layer)
        except Exception as error:  # pyogrio raises several DataSourceError kinds
            raise IngestError(self.label, f"unreadable vector file ({error})") from None
        if info["features"] == 0:
            raise IngestError(self.label, "the layer has no features")
        if "point" not in str(info["geometry_type"]).lower():
            raise IngestError(self.label, f"not a point layer ({info['geometry_type']})")
        self.count = int(info["features"])
        self.roles = {name: canonical_name(name, mapping) for name in info["fields"]}
        if "pid" not in self.roles.values():
            raise IngestError(self.label, "missing required column 'pid' (or CODE)")
        self.ignored: list[str] = []
        self.extras: list[str] = []
        self.dates: list = []

    def chunks(self) -> Iterator[Chunk]:
        for start in range(0, self.count, FEATURES_PER_CHUNK):
            frame = pyogrio.read_dataframe(
                self.path, layer=self.layer, skip_features=start, max_features=FEATURES_PER_CHUNK
            )
            if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
                frame = frame.to_crs("EPSG:4326")
            yield self._to_chunk(frame, start)

    def _to_chunk(self, frame, start: int) -> Chunk:
        attributes: dict[str, np.ndarray] = {}
        extras: dict[str, np.ndarray] = {}
        pids = np.array([], dtype=str)
        for name, role in self.roles.items():
            if role == "pid":
                pids = frame[name].astype(str).to_numpy(dtype=str)
            elif role in egms.POINT_FIELDS:
                attributes[egms.POINT_FIELDS[role]] = frame[name].to_numpy(np.float64)
            elif frame[name].dtype.kind in "fiu":
                extras[role] = frame[name].to_numpy(np.float64)
                if role not in self.extras:
                    self.extras.append(role)
            elif name not in self.ignored:
                self.ignored.append(name)
        geometry = frame.geometry
        # Feature numbers stand in for lines (1-based, as GIS tools show them).
        return Chunk(
            pids=pids,
            lon=geometry.x.to_numpy(),
            lat=geometry.y.to_numpy(),
            attributes=attributes,
            extras=extras,
            series=None,
            lines=start + 1 + np.arange(len(frame)),
            path=f"{self.label} (feature)",
            ignored=self.ignored,
        )
