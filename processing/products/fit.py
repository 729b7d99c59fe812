"""Re-fitting a dataset's parameters from its series, and re-referencing it."""

from __future__ import annotations

import datetime
import time

import numpy as np
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from django.db.models import F

import processing
from groundmotion.models import CornerReflector, Dataset, PointSeries
from groundmotion.storage import copy_in, copy_out, queries
from processing.kernels import velocity
from processing.products import ProgressCallback, no_progress, step_points


def dataset_years(dataset: Dataset) -> np.ndarray:
    """Years since the dataset's first date, one per date (float64)."""
    dates = dataset.acquisition_dates
    if len(dates) < 7:
        raise ValueError(f"{dataset.slug} has {len(dates)} dates; a fit needs at least 7")
    epoch = datetime.date(1970, 1, 1)
    return velocity.years_since_first(np.array([(d - epoch).days for d in dates]))


def software_provenance(step: str, parameters: dict) -> dict:
    return {
        "step": step,
        "parameters": parameters,
        "software": processing.__version__,
        "at": datetime.datetime.now(datetime.UTC).isoformat(),
    }


def record_provenance(dataset: Dataset, entry: dict) -> None:
    history = list(dataset.provenance.get("processing", []))
    dataset.provenance = {**dataset.provenance, "processing": [*history, entry]}
    dataset.save(update_fields=["provenance", "updated_at"])
    Dataset.objects.filter(pk=dataset.pk).update(version=F("version") + 1)
    dataset.refresh_from_db(fields=["version"])


def fit_dataset(dataset: Dataset, progress: ProgressCallback = no_progress) -> dict:
    """Recompute every point's parameters from its series, in one transaction.

    Returns timings (seconds) of loading the compiled kernel, extraction (waiting for the
    next chunk), kernel and writing, the wall-clock total, and the point count.
    """
    years = dataset_years(dataset)
    timings = {"load_s": 0.0, "extract_s": 0.0, "kernel_s": 0.0, "write_s": 0.0, "points": 0}
    begun = time.perf_counter()
    # The first call loads the compiled kernel from numba's cache: once per process.
    velocity.fit_series(np.zeros((1, len(years)), dtype=np.float32), years)
    timings["load_s"] = time.perf_counter() - begun
    with transaction.atomic():
        started = time.perf_counter()
        for fraction, chunk in copy_out.iterate_chunks(
            dataset, {}, step_points(dataset.point_count)
        ):
            read = time.perf_counter()
            result = velocity.fit_series(chunk["series"], years, dataset.wavelength_m * 1000)
            fitted = time.perf_counter()
            copy_in.update_parameters(chunk["id"], dict(result))
            written = time.perf_counter()
            timings["extract_s"] += read - started
            timings["kernel_s"] += fitted - read
            timings["write_s"] += written - fitted
            timings["points"] += len(chunk["id"])
            progress(fraction, f"fitted {timings['points']:,} of {dataset.point_count:,} points")
            started = time.perf_counter()
        finish_fit(dataset)
    timings["total_s"] = time.perf_counter() - begun
    return timings


def nearest_pid(dataset: Dataset, reflector: CornerReflector) -> str:
    """The pid of the dataset's point nearest the reflector (KNN on the GiST index)."""
    pid = queries.nearest_pid(dataset, reflector.geom)
    if pid is None:
        raise ValueError(f"{dataset.slug} has no points")
    return pid


def reference_series(
    dataset: Dataset, *, pid: str = "", reflector: str = "", area_wkt: str = ""
) -> tuple[np.ndarray, dict]:
    """The series to subtract (mm) and a description of the reference."""
    if reflector:
        try:
            target = CornerReflector.objects.get(code=reflector)
        except CornerReflector.DoesNotExist:
            raise ValueError(f"no corner reflector {reflector!r}") from None
        pid = nearest_pid(dataset, target)
    if pid:
        row = PointSeries.objects.filter(point__dataset=dataset, point__pid=pid).first()
        if row is None:
            raise ValueError(f"{dataset.slug} has no point {pid!r} with a series")
        return row.values().astype(np.float32), {"pid": pid, "reflector": reflector}
    if area_wkt:
        area = GEOSGeometry(area_wkt, srid=4326)
        stack = copy_out.read_within(dataset, area.wkt)["series"]
        if not len(stack):
            raise ValueError("the reference area holds no points")
        return np.nanmean(stack, axis=0).astype(np.float32), {
            "area": area.wkt,
            "points": len(stack),
        }
    raise ValueError("give a reference point, reflector or area")


def reference_dataset(
    dataset: Dataset,
    *,
    pid: str = "",
    reflector: str = "",
    area_wkt: str = "",
    progress: ProgressCallback = no_progress,
) -> dict:
    """Subtract a reference series from every series and re-fit, in one transaction."""
    years = dataset_years(dataset)
    with transaction.atomic():
        reference, description = reference_series(
            dataset, pid=pid, reflector=reflector, area_wkt=area_wkt
        )
        if not np.all(np.isfinite(reference)):
            raise ValueError("the reference series has missing dates")
        count = 0
        for fraction, chunk in copy_out.iterate_chunks(
            dataset, {}, step_points(dataset.point_count)
        ):
            velocity.subtract_reference(chunk["series"], reference)
            copy_in.update_series(chunk["id"], chunk["series"])
            result = velocity.fit_series(chunk["series"], years, dataset.wavelength_m * 1000)
            copy_in.update_parameters(chunk["id"], dict(result))
            count += len(chunk["id"])
            progress(fraction, f"re-referenced {count:,} of {dataset.point_count:,} points")
        finish_reference(dataset, description)
    return {"points": count, **description}


def finish_fit(dataset: Dataset) -> None:
    """After every point's parameters are written (in the caller's transaction)."""
    # The tile cells hold sums of the velocities just rewritten: rebuild them, or the map
    # below the point zoom keeps showing the old fit.
    copy_in.refresh_summary(dataset)
    record_provenance(dataset, software_provenance("fit", {}))


def finish_reference(dataset: Dataset, description: dict) -> None:
    """After every series and parameters are written (in the caller's transaction)."""
    copy_in.refresh_summary(dataset)  # the cells' velocity sums, as after a fit
    dataset.reference_pid = description.get("pid", "")
    area = description.get("area")
    dataset.reference_area = GEOSGeometry(area, srid=4326) if area else None
    dataset.save(update_fields=["reference_pid", "reference_area", "updated_at"])
    record_provenance(dataset, software_provenance("reference", description))
