"""Fit and re-reference as fanned-out jobs (processing/fanout.py): plan, chunk, finish.

A chunk reads its id range's series and runs the same kernels as products/fit.py; the finishing
step writes the parameters (and re-referenced series) with the same copy_in calls, in one
transaction, so the dataset ends bit-for-bit as after the single-process run.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from django.db import transaction

from groundmotion.models import Dataset, ProcessingJob
from groundmotion.storage import copy_in, copy_out
from processing import fanout, jobs, runs
from processing.kernels import velocity
from processing.models import FanOut, JobChunk
from processing.products import fit

# A re-reference chunk keeps its new series (float32) until the finishing step: bound its bytes.
REFERENCE_CHUNK_BYTES = 256 * 2**20


def _split(dataset: Dataset, chunk_points: int, shared: dict) -> fanout.Plan | None:
    if not fanout.wants_fanout(dataset.point_count):
        return None
    parts, points = fanout.split(copy_out.point_ids(dataset), chunk_points)
    return fanout.Plan(parts, points, {"dataset": dataset.pk, **shared})


def plan_fit(job: ProcessingJob) -> fanout.Plan | None:
    dataset = jobs.dataset_by_slug(job.parameters.get("dataset"))
    fit.dataset_years(dataset)  # too few dates fail here, before any chunk
    return _split(dataset, fanout.job_settings()["JOB_CHUNK_POINTS"], {})


def _fitted(dataset: Dataset, series: np.ndarray) -> dict[str, np.ndarray]:
    years = fit.dataset_years(dataset)
    return dict(velocity.fit_series(series, years, dataset.wavelength_m * 1000))


def compute_fit(job: ProcessingJob, plan: FanOut, chunk: JobChunk) -> bytes:
    dataset = Dataset.objects.get(pk=plan.shared["dataset"])
    read = fanout.read_chunk(dataset.pk, chunk, len(dataset.acquisition_dates))
    return fanout.pack({"id": read["id"], **_fitted(dataset, read["series"])})


def _parameters(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: arrays[name] for name in velocity.OUTPUT_NAMES}


def finish_fit(
    job: ProcessingJob, plan: FanOut, outputs: Iterator[bytes], progress: runs.Progress
) -> fanout.Finished:
    dataset = Dataset.objects.get(pk=plan.shared["dataset"])
    written = 0
    with transaction.atomic():
        for output in outputs:
            arrays = fanout.unpack(output)
            copy_in.update_parameters(arrays["id"], _parameters(arrays))
            written += len(arrays["id"])
            fanout.finishing_progress(progress, written, plan.total_points, "writing fits")
        fit.finish_fit(dataset)
    return fanout.Finished(jobs.result_message(job.kind, job.parameters), {"output": dataset})


def plan_reference(job: ProcessingJob) -> fanout.Plan | None:
    dataset = jobs.dataset_by_slug(job.parameters.get("dataset"))
    fit.dataset_years(dataset)
    if not fanout.wants_fanout(dataset.point_count):
        return None
    reference, description = fit.reference_series(
        dataset,
        pid=job.parameters.get("point", ""),
        reflector=job.parameters.get("reflector", ""),
        area_wkt=job.parameters.get("area", ""),
    )
    if not np.all(np.isfinite(reference)):
        raise ValueError("the reference series has missing dates")
    size = min(
        fanout.job_settings()["JOB_CHUNK_POINTS"],
        max(1000, REFERENCE_CHUNK_BYTES // (4 * len(reference))),
    )
    # float32 -> float (JSON) -> float32 is exact.
    shared = {"reference": [float(value) for value in reference], "description": description}
    return _split(dataset, size, shared)


def compute_reference(job: ProcessingJob, plan: FanOut, chunk: JobChunk) -> bytes:
    dataset = Dataset.objects.get(pk=plan.shared["dataset"])
    read = fanout.read_chunk(dataset.pk, chunk, len(dataset.acquisition_dates))
    series = read["series"]
    velocity.subtract_reference(series, np.array(plan.shared["reference"], dtype=np.float32))
    return fanout.pack({"id": read["id"], "series": series, **_fitted(dataset, series)})


def finish_reference(
    job: ProcessingJob, plan: FanOut, outputs: Iterator[bytes], progress: runs.Progress
) -> fanout.Finished:
    dataset = Dataset.objects.get(pk=plan.shared["dataset"])
    written = 0
    with transaction.atomic():
        for output in outputs:
            arrays = fanout.unpack(output)
            copy_in.update_series(arrays["id"], arrays["series"])
            copy_in.update_parameters(arrays["id"], _parameters(arrays))
            written += len(arrays["id"])
            fanout.finishing_progress(progress, written, plan.total_points, "writing series")
        fit.finish_reference(dataset, plan.shared["description"])
    return fanout.Finished(jobs.result_message(job.kind, job.parameters), {"output": dataset})


FIT = fanout.Chunked(plan_fit, compute_fit, finish_fit)
REFERENCE = fanout.Chunked(plan_reference, compute_reference, finish_reference)
