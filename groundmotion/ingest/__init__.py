"""Ingest of point products: EGMS CSV/ZIP (L2a, L2b, L3), generic CSV, GeoPackage/Shapefile.

`ingest(paths, IngestOptions(...))` loads files into one dataset in one transaction and
raises IngestError (file, line, column, what is wrong) on bad input, loading nothing.
"""

from __future__ import annotations

from groundmotion.ingest.errors import IngestError
from groundmotion.ingest.loader import IngestOptions, IngestReport, ingest

__all__ = ["IngestError", "IngestOptions", "IngestReport", "ingest"]
