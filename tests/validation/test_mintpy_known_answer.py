"""MintPy's decomposition known answer, reproduced with our kernel.

From insarlab/MintPy tests/asc_desc2horz_vert.py (commit 06a98622): incidence 30 deg for
both geometries, LOS azimuth +102 and -102 deg (measured from north, anticlockwise, ground to
satellite), horizontal motion 0.5 along azimuth 30 deg, vertical 1.0; the solve must give
them back exactly. MintPy's unit vector: e = -sin(inc) sin(az), n = sin(inc) cos(az),
u = cos(inc), positive towards the satellite as ours.
"""

from __future__ import annotations

import numpy as np

from processing.kernels import decomposition
from processing.products.decompose import Geometry, decompose_arrays

INCIDENCE = np.radians([30.0, 30.0])
AZIMUTH = np.radians([102.0, -102.0])
HORIZONTAL, VERTICAL, HORIZONTAL_AZIMUTH = 0.5, 1.0, np.radians(30.0)
EAST = -HORIZONTAL * np.sin(HORIZONTAL_AZIMUTH)
NORTH = HORIZONTAL * np.cos(HORIZONTAL_AZIMUTH)


def mintpy_los() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        -np.sin(INCIDENCE) * np.sin(AZIMUTH),
        np.sin(INCIDENCE) * np.cos(AZIMUTH),
        np.cos(INCIDENCE),
    )


def test_our_solver_gives_mintpys_horizontal_and_vertical() -> None:
    east, north, up = mintpy_los()
    los = east * EAST + north * NORTH + up * VERTICAL
    # MintPy's design for a horizontal direction: sin(inc) cos(az - horizontal azimuth).
    horizontal = np.sin(INCIDENCE) * np.cos(AZIMUTH - HORIZONTAL_AZIMUTH)
    solved = decomposition.solve_cells(
        np.array([0, 2]), horizontal, np.cos(INCIDENCE), los[:, None].astype(np.float32)
    )
    # solve_cells names its first unknown "east": here it is MintPy's horizontal.
    assert np.allclose(solved["east"], HORIZONTAL, atol=1e-6)
    assert np.allclose(solved["up"], VERTICAL, atol=1e-6)


def test_our_decomposition_gives_east_and_up_once_north_is_known() -> None:
    """The product path (resampling, cells, re-fit) on MintPy's geometry: 5 x 5 pixels of
    series growing at the known rates; GNSS north given, as with --gnss."""
    east, north, up = mintpy_los()
    days = np.arange(0, 6 * 61, 6)
    years = days / 365.25
    pixels = np.arange(25)
    geometries = []
    for k in range(2):
        rate = east[k] * EAST + north[k] * NORTH + up[k] * VERTICAL
        geometries.append(
            Geometry(
                easting=4_000_050.0 + 100.0 * (pixels % 5),
                northing=2_000_050.0 + 100.0 * (pixels // 5),
                los_east=np.full(25, east[k]),
                los_north=np.full(25, north[k]),
                los_up=np.full(25, up[k]),
                series=np.tile((rate * years).astype(np.float32), (25, 1)),
                days=days + 18_000,
                north_velocity=np.full(25, NORTH),
            )
        )
    result = decompose_arrays(geometries)
    assert len(result["column"]) == 25
    assert np.allclose(result["east"]["fit"]["velocity"], EAST, atol=1e-4)
    assert np.allclose(result["up"]["fit"]["velocity"], VERTICAL, atol=1e-4)
