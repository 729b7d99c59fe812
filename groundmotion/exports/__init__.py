"""Exports of a dataset's points: EGMS-compatible CSV, GeoPackage, and GeoTIFF for L3.

The writers take a queryset of points that access.py has already filtered (visibility, masked
areas, area of interest) and stream it from PostgreSQL in chunks with binary COPY, so memory
stays bounded for millions of points. See writers.write_export for the single entry point.
Columns come from groundmotion/egms.py (columns.py); csvtext.py formats CSV rows with numba.
"""

from __future__ import annotations
