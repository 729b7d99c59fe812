"""Corner-reflector measurements from an amplitude stack (acquisitions x rows x columns)."""

from __future__ import annotations

import datetime

import numpy as np
from django.db import transaction

from groundmotion.models import CornerReflector, ReflectorMeasurement
from processing.kernels import reflectors

SENTINEL1_WAVELENGTH_M = 0.055465763


def measure_reflector(
    reflector: CornerReflector,
    amplitudes: np.ndarray,
    dates: list[datetime.date],
    relative_orbit: int | None = None,
    pixel_area_m2: float = 1.0,
    wavelength_m: float = SENTINEL1_WAVELENGTH_M,
) -> dict:
    """Store SCR (dB) and measured RCS (dBm², energy x pixel area) per acquisition.

    Amplitudes are calibrated (sqrt of beta0) so that energy x pixel area is an RCS in m².
    Replaces earlier measurements of the same dates and orbit, in one transaction.
    """
    if len(dates) != len(amplitudes):
        raise ValueError(f"{len(amplitudes)} acquisitions but {len(dates)} dates")
    measured = reflectors.signal_to_clutter(amplitudes)
    if np.any(measured["scr"] <= 0):
        raise ValueError("no reflector above the clutter in some acquisitions")
    scr_db = reflectors.to_db(measured["scr"])
    rcs_dbm2 = reflectors.to_db(measured["energy"] * pixel_area_m2)
    with transaction.atomic():
        for date, scr, rcs in zip(dates, scr_db, rcs_dbm2, strict=True):
            ReflectorMeasurement.objects.update_or_create(
                reflector=reflector,
                acquisition_date=date,
                relative_orbit=relative_orbit,
                defaults={"scr_db": float(scr), "rcs_dbm2": float(rcs)},
            )
    theoretical = reflectors.theoretical_rcs(reflector.leg_length, wavelength_m)
    return {
        "acquisitions": len(dates),
        "theoretical_rcs_dbm2": float(reflectors.to_db(theoretical)),
        "median_scr_db": float(np.median(scr_db)),
        "expected_los_std_mm": float(
            reflectors.los_precision_mm(np.median(measured["scr"]), wavelength_m)
        ),
    }
