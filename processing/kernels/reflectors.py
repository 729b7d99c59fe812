"""Corner reflectors: theoretical RCS, signal-to-clutter ratio and expected LOS precision.

Units: metres, m², dB, mm. A triangular trihedral of inner leg length a has a peak RCS of
4·π·a⁴ / (3·λ²). SCR by the integral method: the energy of a 3 x 3 window on the peak minus
the clutter it contains, over the mean clutter intensity of the 9 x 9 window around it
(peak window excluded). The expected LOS precision is λ / (4·π·sqrt(2·SCR)).
"""

from __future__ import annotations

import numpy as np

SIGNAL_HALF_WIDTH = 1  # 3 x 3
CLUTTER_HALF_WIDTH = 4  # 9 x 9


def theoretical_rcs(leg_length_m: float, wavelength_m: float) -> float:
    """Peak RCS of a triangular trihedral, m²."""
    return 4 * np.pi * leg_length_m**4 / (3 * wavelength_m**2)


def to_db(value: np.ndarray | float) -> np.ndarray:
    return 10 * np.log10(value)


def signal_to_clutter(
    amplitudes: np.ndarray, row: int | None = None, column: int | None = None
) -> dict[str, np.ndarray]:
    """SCR (linear) and clutter-subtracted peak energy per acquisition.

    amplitudes: acquisitions x rows x columns (linear amplitude). The peak is searched in the
    central 3 x 3 when row/column are not given. Returns scr, energy (intensity units x
    pixels) and clutter (mean intensity per pixel), one value per acquisition.
    """
    stack = np.asarray(amplitudes, dtype=np.float64)
    if stack.ndim != 3:
        raise ValueError(f"amplitudes must be acquisitions x rows x columns, not {stack.shape}")
    intensity = stack**2
    if row is None or column is None:
        row, column = np.unravel_index(np.argmax(intensity.mean(axis=0)), intensity.shape[1:])
    c, s = CLUTTER_HALF_WIDTH, SIGNAL_HALF_WIDTH
    if not (c <= row < stack.shape[1] - c and c <= column < stack.shape[2] - c):
        raise ValueError("the reflector is too close to the edge for a 9 x 9 clutter window")
    clutter_window = intensity[:, row - c : row + c + 1, column - c : column + c + 1]
    signal_window = clutter_window[:, c - s : c + s + 1, c - s : c + s + 1]
    signal_sum = signal_window.sum(axis=(1, 2))
    signal_pixels = (2 * s + 1) ** 2
    clutter_pixels = clutter_window[0].size - signal_pixels
    clutter = (clutter_window.sum(axis=(1, 2)) - signal_sum) / clutter_pixels
    energy = signal_sum - signal_pixels * clutter
    return {"scr": energy / clutter, "energy": energy, "clutter": clutter}


def los_precision_mm(scr: np.ndarray | float, wavelength_m: float) -> np.ndarray:
    """Expected LOS displacement std (mm) for a given linear SCR."""
    return wavelength_m * 1000 / (4 * np.pi * np.sqrt(2 * np.asarray(scr, dtype=np.float64)))
