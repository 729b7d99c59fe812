"""A calibrated (L2b) dataset's GNSS validation, read from its provenance: what the calibrate
job measured leaving each station out in turn (processing/products/calibrate.py). Shown in
the admin and the API; None for datasets not calibrated here."""

from __future__ import annotations

from groundmotion.models import Dataset

STATION_FIELDS = (
    "code",
    "points",
    "insar",
    "gnss",
    "std",
    "misfit_before",
    "misfit_after",
    "left_out_misfit",
    "rejected",
)


def gnss_validation(dataset: Dataset, with_stations: bool = True) -> dict | None:
    """Per station its InSAR minus GNSS LOS velocity against the surface fitted without it
    (mm/yr), their RMSE and OPERA Cal/Val's station-pair test. with_stations=False leaves
    the per-station rows out (access.sees_station_ties decides)."""
    report = (dataset.provenance or {}).get("calibration") or {}
    if "leave_one_out" not in report:
        return None
    return {
        "network": report["network"],
        "surface_order": report["surface_order"],
        "rejected": report.get("rejected", []),
        "rms_before": report["rms_before"],
        "rms_after": report["rms_after"],
        "leave_one_out": report["leave_one_out"],
        "stations": [
            {name: station.get(name) for name in STATION_FIELDS} for station in report["stations"]
        ]
        if with_stations
        else None,
    }
