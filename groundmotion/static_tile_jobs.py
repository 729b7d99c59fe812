"""Rebuilds of the static public tiles (static_tiles.py) as jobs, after what changes them.

Publishing, unpublishing, a change of visibility or of masks each enqueue a "pmtiles" job per
dataset when settings.GROUNDMOTION_PMTILES_DIR is set; the job (processing/static_tiles.py)
writes <dir>/<slug>.pmtiles again, or removes it when anonymous users may no longer see the
dataset, so a CDN in front of the directory never keeps serving what became private.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from groundmotion.models import Dataset, ProcessingJob

JOB_KIND = "pmtiles"


def archive_path(slug: str) -> Path | None:
    """Where the dataset's archive lives; None when static tiles are off."""
    directory = settings.GROUNDMOTION_PMTILES_DIR
    return Path(directory) / f"{slug}.pmtiles" if directory else None


def rebuild_archives(dataset_ids: Iterable[int]) -> list[ProcessingJob]:
    """One queued "pmtiles" job per dataset, sent to the workers once the change commits."""
    if not settings.GROUNDMOTION_PMTILES_DIR:
        return []
    from processing.tasks import run_job  # Enqueue only (docs/architecture.md).

    jobs = [
        ProcessingJob.objects.create(kind=JOB_KIND, parameters={"dataset": slug})
        for slug in Dataset.objects.filter(pk__in=set(dataset_ids)).values_list("slug", flat=True)
    ]
    for job in jobs:
        transaction.on_commit(lambda job_id=job.pk: run_job.delay(job_id))
    return jobs
