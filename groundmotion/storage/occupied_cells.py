"""Which cells of a level hold points: where a dataset's non-empty tiles can be.

The cells are built from the points anonymous users may aggregate (masked areas left out), so
their columns and rows say where an anonymous user's tiles have features (static_tiles.py).
"""

from __future__ import annotations

import numpy as np

from groundmotion.storage.replicas import read_connection
from groundmotion.storage.tables import CELL_TABLE

OCCUPIED_CELLS_SQL = f"""
SELECT cell_column, cell_row FROM {CELL_TABLE}
WHERE dataset_id = %(dataset)s AND zoom = %(level)s AND count > 0
"""


def occupied_cells(dataset_id: int, level: int) -> np.ndarray:
    """(column, row) of the non-empty cells of the dataset at `level`, an int64 array (n, 2)."""
    with read_connection().cursor() as cursor:
        cursor.execute(OCCUPIED_CELLS_SQL, {"dataset": dataset_id, "level": level})
        rows = cursor.fetchall()
    return np.array(rows, dtype=np.int64).reshape(-1, 2)
