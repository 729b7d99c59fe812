"""The tables the storage layer writes SQL against, named by their models."""

from __future__ import annotations

from django.db import models

from groundmotion.models import CellSeries, MeasurementPoint, PointExtra, PointSeries, TileCell

POINT_TABLE = MeasurementPoint._meta.db_table
SERIES_TABLE = PointSeries._meta.db_table
EXTRA_TABLE = PointExtra._meta.db_table
CELL_TABLE = TileCell._meta.db_table
CELL_SERIES_TABLE = CellSeries._meta.db_table

# The float columns of MeasurementPoint in COPY order (all real, NULL where NaN): the model's
# own order, so a new float field joins loads, exports and the API by itself.
POINT_FLOAT_COLUMNS = tuple(
    field.attname
    for field in MeasurementPoint._meta.concrete_fields
    if isinstance(field, models.FloatField)
)
