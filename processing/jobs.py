"""The processing jobs: one entry per kind, run by tasks.py, started from the API or admin.

Each runner takes the job's parameters (JSON) and a progress callback and returns the output
dataset (or None). Bad parameters raise ValueError with a message for the curator.
`result_message` is what a succeeded job says: derived datasets start as drafts, and the
curator is told how to publish them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import numpy as np

from groundmotion.models import CornerReflector, Dataset, GNSSNetwork, ProcessingJob, Status
from processing import static_tiles
from processing.products import ProgressCallback, calibrate, decompose, fit, reflector

Runner = Callable[[dict, ProgressCallback], Dataset | None]


def dataset_by_slug(slug: object) -> Dataset:
    try:
        return Dataset.objects.get(slug=str(slug))
    except Dataset.DoesNotExist:
        raise ValueError(f"no dataset {slug!r}") from None


def network_by_slug(slug: object) -> GNSSNetwork:
    try:
        return GNSSNetwork.objects.get(slug=str(slug))
    except GNSSNetwork.DoesNotExist:
        raise ValueError(f"no GNSS network {slug!r}") from None


def run_fit(parameters: dict, progress: ProgressCallback) -> Dataset:
    dataset = dataset_by_slug(parameters.get("dataset"))
    fit.fit_dataset(dataset, progress)
    return dataset


def run_reference(parameters: dict, progress: ProgressCallback) -> Dataset:
    dataset = dataset_by_slug(parameters.get("dataset"))
    fit.reference_dataset(
        dataset,
        pid=parameters.get("point", ""),
        reflector=parameters.get("reflector", ""),
        area_wkt=parameters.get("area", ""),
        progress=progress,
    )
    return dataset


def names(value: object) -> list[str]:
    """One slug or a list of slugs."""
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def run_calibrate(parameters: dict, progress: ProgressCallback) -> Dataset:
    """dataset and output: one slug each, or lists (tracks of one pass, harmonised)."""
    sources = [dataset_by_slug(slug) for slug in names(parameters.get("dataset"))]
    network = network_by_slug(parameters.get("gnss"))
    outputs, _ = calibrate.calibrate_datasets(
        sources, network, names(parameters["output"]), progress
    )
    return outputs[0]


def run_decompose(parameters: dict, progress: ProgressCallback) -> Dataset:
    network = network_by_slug(parameters["gnss"]) if parameters.get("gnss") else None
    up, _ = decompose.decompose_datasets(
        dataset_by_slug(parameters.get("ascending")),
        dataset_by_slug(parameters.get("descending")),
        up_slug=str(parameters["up"]),
        east_slug=str(parameters["east"]),
        cell_size=int(parameters.get("grid", 100)),
        network=network,
        progress=progress,
    )
    return up


def run_reflector(parameters: dict, progress: ProgressCallback) -> None:
    target = CornerReflector.objects.filter(code=parameters.get("reflector")).first()
    if target is None:
        raise ValueError(f"no corner reflector {parameters.get('reflector')!r}")
    amplitudes = np.load(str(parameters["amplitudes"]))
    dates = [datetime.date.fromisoformat(d) for d in parameters["dates"]]
    progress(0.5, f"measuring {target.code} on {len(dates):,} acquisitions")
    reflector.measure_reflector(target, amplitudes, dates, parameters.get("relative_orbit"))
    return None


def draft_notice(datasets: list[Dataset]) -> str:
    """ "created as draft 'Dax L3 up-down 2021-2023' (slug dax-up): publish with
    `manage.py dataset dax-up --publish` or in the admin"."""
    drafts = [dataset for dataset in datasets if dataset.status == Status.DRAFT]
    if not drafts:
        return ""
    named = " and ".join(f"draft '{d.name}' (slug {d.slug})" for d in drafts)
    commands = ", ".join(f"`manage.py dataset {d.slug} --publish`" for d in drafts)
    return f"created as {named}: publish with {commands} or in the admin"


def output_slugs(kind: str, parameters: dict) -> list[str]:
    """The slugs of the datasets a job of this kind creates (none for fit, reference...)."""
    if kind == ProcessingJob.Kind.CALIBRATE:
        return names(parameters.get("output"))
    if kind == ProcessingJob.Kind.DECOMPOSE:
        return [str(parameters.get("up")), str(parameters.get("east"))]
    return []


def result_message(kind: str, parameters: dict) -> str:
    """What a succeeded job says: the drafts it created and how to publish them, or done."""
    slugs = output_slugs(kind, parameters)
    by_slug = {d.slug: d for d in Dataset.objects.filter(slug__in=slugs)}
    notice = draft_notice([by_slug[slug] for slug in slugs if slug in by_slug])
    return f"done: {notice}" if notice else "done"


RUNNERS: dict[str, Runner] = {
    ProcessingJob.Kind.FIT: run_fit,
    ProcessingJob.Kind.REFERENCE: run_reference,
    ProcessingJob.Kind.CALIBRATE: run_calibrate,
    ProcessingJob.Kind.DECOMPOSE: run_decompose,
    ProcessingJob.Kind.REFLECTOR: run_reflector,
    "pmtiles": static_tiles.run_pmtiles,  # static public tiles (processing/static_tiles.py)
}

# Parameters each kind requires (checked by the API before a job is queued).
REQUIRED = {
    ProcessingJob.Kind.FIT: ["dataset"],
    ProcessingJob.Kind.REFERENCE: ["dataset"],
    ProcessingJob.Kind.CALIBRATE: ["dataset", "gnss", "output"],
    ProcessingJob.Kind.DECOMPOSE: ["ascending", "descending", "up", "east"],
    ProcessingJob.Kind.REFLECTOR: ["reflector", "amplitudes", "dates"],
}
