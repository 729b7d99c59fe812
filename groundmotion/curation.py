"""Curation operations used by the admin (and available to management commands).

Every change of what a dataset shows bumps its version, which keys tile caches and ETags.
Loads rebuild the tile cells in copy_in.refresh_summary. A mask changes which points the
cells may count, so the admin rebuilds the cells of the datasets a mask covers
(cells.refresh_datasets), which also bumps their versions and so retires every cached tile.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from groundmotion import static_tile_jobs
from groundmotion.models import Dataset, MaskedArea, Status, Visibility


def set_status(datasets: QuerySet[Dataset], status: str) -> int:
    """Publish or unpublish; returns how many datasets changed (their static tiles follow)."""
    changing = list(datasets.exclude(status=status).values_list("pk", flat=True))
    changed = Dataset.objects.filter(pk__in=changing).update(
        status=status, version=F("version") + 1, updated_at=timezone.now()
    )
    static_tile_jobs.rebuild_archives(changing)
    return changed


def restrict_to_groups(datasets: QuerySet[Dataset], groups: Iterable[Group]) -> int:
    """Make every dataset restricted to exactly these groups (one transaction)."""
    groups = list(groups)
    with transaction.atomic():
        selected = list(datasets.select_for_update())
        for dataset in selected:
            dataset.allowed_groups.set(groups)
        ids = [dataset.pk for dataset in selected]
        Dataset.objects.filter(pk__in=ids).update(
            visibility=Visibility.RESTRICTED, version=F("version") + 1, updated_at=timezone.now()
        )
    static_tile_jobs.rebuild_archives(ids)  # Removes archives that were public.
    return len(ids)


def datasets_under_mask(area: MaskedArea) -> QuerySet[Dataset]:
    """Datasets a mask applies to: its scope, or every dataset whose extent it touches."""
    if area.pk and area.datasets.exists():
        return area.datasets.all()
    return Dataset.objects.filter(extent__intersects=area.geom)


def bump_datasets(ids: Iterable[int]) -> int:
    return Dataset.objects.filter(pk__in=set(ids)).update(
        version=F("version") + 1, updated_at=timezone.now()
    )


def published_ids(datasets: QuerySet[Dataset]) -> list[int]:
    return list(datasets.filter(status=Status.PUBLISHED).values_list("pk", flat=True))
