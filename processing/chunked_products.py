"""Calibrate and decompose as fanned-out jobs (processing/fanout.py): plan, chunk, finish.

Calibrate: the GNSS surfaces and the harmonisation are fitted once, by the planner (they need
every track's points but cost little); the chunks are id ranges of the tracks, each corrected
and re-fitted (products/calibrate.calibrated_chunk). Decompose: the chunks are the bands of
whole cell rows the single-process run streams (a cell lies in one row), each solved by
products/decompose.solve_band. The finishing step creates the drafts and writes every chunk
into them in one transaction, with the single-process run's own writers; each point's and
cell's arithmetic is its own (kernels are row by row), so the products are that run's to the
last bit whatever the chunks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
from django.db import transaction

from groundmotion.models import Dataset, GNSSNetwork, ProcessingJob
from groundmotion.storage import copy_in, copy_out, partitions
from processing import fanout, jobs, runs
from processing.models import FanOut, JobChunk
from processing.products import calibrate, decompose
from processing.products.fit import dataset_years

SURFACE = "attribute__"  # prefix of the calibrated attributes in a chunk's output


def check_new_slugs(slugs: list[str]) -> None:
    """Fail before any chunk where the finishing step would (create_output)."""
    taken = Dataset.objects.filter(slug__in=slugs).values_list("slug", flat=True).first()
    if taken:
        raise ValueError(f"a dataset {taken!r} already exists")


def plan_calibrate(job: ProcessingJob) -> fanout.Plan | None:
    parameters = job.parameters
    sources = [jobs.dataset_by_slug(slug) for slug in jobs.names(parameters.get("dataset"))]
    network = jobs.network_by_slug(parameters.get("gnss"))
    slugs = jobs.names(parameters.get("output"))
    calibrate.check_calibration(sources, slugs)
    if not fanout.wants_fanout(sum(source.point_count for source in sources)):
        return None
    check_new_slugs(slugs)
    surfaces, harmonised = calibrate.calibration_surfaces(sources, network)
    parts, points, source_of = [], [], []
    for number, source in enumerate(sources):
        size = fanout.job_settings()["JOB_CHUNK_POINTS"]
        source_parts, source_points = fanout.split(copy_out.point_ids(source), size)
        parts += source_parts
        points += source_points
        source_of += [number] * len(source_parts)
    shared = {
        "sources": [source.pk for source in sources],
        "network": network.pk,
        "outputs": slugs,
        "reports": [report for _, report in surfaces],
        "harmonisation": harmonised,
        "source_of": source_of,  # per chunk, the index of its track
    }
    return fanout.Plan(parts, points, shared)


def compute_calibrate(job: ProcessingJob, plan: FanOut, chunk: JobChunk) -> bytes:
    number = plan.shared["source_of"][chunk.number]
    source = Dataset.objects.get(pk=plan.shared["sources"][number])
    read = fanout.read_chunk(
        source.pk, chunk, len(source.acquisition_dates), calibrate.CALIBRATED_COLUMNS
    )
    surface = calibrate.track_surface(
        source.slug, plan.shared["reports"][number], plan.shared["harmonisation"]
    )
    attributes = calibrate.calibrated_chunk(source, read, surface, dataset_years(source))
    kept = {name: read[name] for name in ("id", "lon", "lat", "series")}
    return fanout.pack(kept | {SURFACE + name: values for name, values in attributes.items()})


def finish_calibrate(
    job: ProcessingJob, plan: FanOut, outputs: Iterator[bytes], progress: runs.Progress
) -> fanout.Finished:
    shared = plan.shared
    sources = [Dataset.objects.get(pk=pk) for pk in shared["sources"]]
    network = GNSSNetwork.objects.get(pk=shared["network"])
    written = 0
    with contextlib.ExitStack() as stack, transaction.atomic():
        staged = [stack.enter_context(partitions.StagedPoints()) for _ in sources]
        created = [
            calibrate.create_calibrated(
                source, sources, network, slug, report, shared["harmonisation"]
            )
            for source, slug, report in zip(
                sources, shared["outputs"], shared["reports"], strict=True
            )
        ]
        for number, output in zip(shared["source_of"], outputs, strict=True):
            arrays = fanout.unpack(output)
            attributes = {
                name.removeprefix(SURFACE): values
                for name, values in arrays.items()
                if name.startswith(SURFACE)
            }
            calibrate.write_calibrated_chunk(
                sources[number], created[number], staged[number], arrays, attributes
            )
            written += len(arrays["id"])
            fanout.finishing_progress(progress, written, plan.total_points, "writing L2b points")
        for output, table in zip(created, staged, strict=True):
            copy_in.finish_load(output, table)
    return fanout.Finished(jobs.result_message(job.kind, job.parameters), {"output": created[0]})


def _decompose_inputs(shared: dict) -> tuple[list[Dataset], GNSSNetwork | None]:
    inputs = [Dataset.objects.get(pk=pk) for pk in shared["inputs"]]
    network = GNSSNetwork.objects.get(pk=shared["network"]) if shared["network"] else None
    return inputs, network


def plan_decompose(job: ProcessingJob) -> fanout.Plan | None:
    parameters = job.parameters
    network = jobs.network_by_slug(parameters["gnss"]) if parameters.get("gnss") else None
    inputs = [
        jobs.dataset_by_slug(parameters.get("ascending")),
        jobs.dataset_by_slug(parameters.get("descending")),
    ]
    decompose.check_inputs(inputs)
    if not fanout.wants_fanout(sum(dataset.point_count for dataset in inputs)):
        return None
    slugs = {"up": str(parameters["up"]), "east": str(parameters["east"])}
    check_new_slugs(list(slugs.values()))
    cell_size = int(parameters.get("grid", 100))
    budget = fanout.job_settings()["JOB_CHUNK_POINTS"]
    bands, points = decompose.plan_bands(inputs, cell_size, budget)
    shared = {
        "inputs": [dataset.pk for dataset in inputs],
        "network": network.pk if network else None,
        "cell_size": cell_size,
        "slugs": slugs,
    }
    # A chunk's first and last are its cell rows (Chunked.unit).
    parts = [copy_out.Part(first, last, False) for first, last in bands]
    return fanout.Plan(parts, points, shared)


def compute_decompose(job: ProcessingJob, plan: FanOut, chunk: JobChunk) -> bytes:
    inputs, network = _decompose_inputs(plan.shared)
    days = decompose.check_inputs(inputs)
    rows = (chunk.first_id, chunk.last_id)
    result = decompose.solve_band(inputs, network, days, plan.shared["cell_size"], rows)
    if result is None:
        return fanout.pack({"empty": np.zeros(0)})
    flat = {name: result[name] for name in ("column", "row", "easting", "northing")}
    for component in ("east", "up"):
        part = result[component]
        flat[f"{component}__series"] = part["series"]
        flat[f"{component}__std"] = part["std"]
        flat |= {f"{component}__fit__{name}": values for name, values in part["fit"].items()}
    return fanout.pack(flat)


def _band_result(arrays: dict[str, np.ndarray]) -> dict:
    result: dict = {name: arrays[name] for name in ("column", "row", "easting", "northing")}
    for component in ("east", "up"):
        prefix = f"{component}__fit__"
        result[component] = {
            "series": arrays[f"{component}__series"],
            "std": arrays[f"{component}__std"],
            "fit": {
                name.removeprefix(prefix): values
                for name, values in arrays.items()
                if name.startswith(prefix)
            },
        }
    return result


def finish_decompose(
    job: ProcessingJob, plan: FanOut, outputs: Iterator[bytes], progress: runs.Progress
) -> fanout.Finished:
    shared = plan.shared
    (ascending, descending), network = _decompose_inputs(shared)
    days = decompose.check_inputs([ascending, descending])
    slugs, cell_size = shared["slugs"], shared["cell_size"]
    cells = written = 0
    with contextlib.ExitStack() as stack, transaction.atomic():
        tables = {name: stack.enter_context(partitions.StagedPoints()) for name in slugs}
        created = decompose.create_outputs(ascending, descending, slugs, days, cell_size, network)
        for points, output in zip(
            plan.chunks.order_by("number").values_list("points", flat=True), outputs, strict=True
        ):
            arrays = fanout.unpack(output)
            if "column" in arrays:
                decompose.write_cells(created, tables, _band_result(arrays))
                cells += len(arrays["column"])
            written += points
            fanout.finishing_progress(progress, written, plan.total_points, f"{cells:,} cells")
        decompose.finish_outputs(created, tables, cells)
    return fanout.Finished(jobs.result_message(job.kind, job.parameters), {"output": created["up"]})


CALIBRATE = fanout.Chunked(plan_calibrate, compute_calibrate, finish_calibrate)
DECOMPOSE = fanout.Chunked(plan_decompose, compute_decompose, finish_decompose, unit="cell rows")
