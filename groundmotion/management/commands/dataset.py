"""The curator's command for a dataset's state: publish, visibility, groups, name and area,
delete, summary."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import F

from groundmotion import static_tile_jobs
from groundmotion.models import Dataset, Status, Visibility
from groundmotion.storage import partitions


class Command(BaseCommand):
    help = (
        "Change a dataset's state: --publish/--unpublish, --visibility, --group (repeatable, "
        "for restricted datasets), --name, --area, --delete. Every change bumps the dataset's "
        "version. "
        "Without options, print the dataset's summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--publish", action="store_true")
        state.add_argument("--unpublish", action="store_true")
        state.add_argument("--delete", action="store_true", help="Delete it and its points")
        parser.add_argument("--visibility", choices=Visibility.values)
        parser.add_argument(
            "--group",
            action="append",
            default=None,
            metavar="NAME",
            help="Allowed group (repeatable); replaces the current list",
        )
        parser.add_argument("--name", help="A new name, e.g. 'Dax L3 up-down 2021-2023'")
        parser.add_argument("--area", help="Where it lies, to group datasets (e.g. 'Dax')")

    def handle(self, *args: Any, slug: str, **options: Any) -> None:
        """1. find the dataset; 2. apply each change by conditional UPDATE; 3. print it."""
        dataset = Dataset.objects.filter(slug=slug).first()
        if dataset is None:
            raise CommandError(f"no dataset {slug!r}")
        with transaction.atomic():
            if options["delete"]:
                if not partitions.drop(dataset.pk):  # else its rows are in the default one
                    partitions.delete_points(dataset.pk)
                dataset.delete()
                self.stdout.write(f"{slug}: deleted")
                return
            self._apply(dataset, options)
        dataset.refresh_from_db()
        summary = {
            **dataset.to_dict(),
            "allowed_groups": sorted(dataset.allowed_groups.values_list("name", flat=True)),
        }
        self.stdout.write(json.dumps(summary, indent=2))

    def _apply(self, dataset: Dataset, options: dict[str, Any]) -> None:
        if options["publish"]:
            change_state(dataset, "status", Status.DRAFT, Status.PUBLISHED)
        if options["unpublish"]:
            change_state(dataset, "status", Status.PUBLISHED, Status.DRAFT)
        if options["visibility"]:
            change_state(dataset, "visibility", dataset.visibility, options["visibility"])
        if options["group"] is not None:
            set_groups(dataset, options["group"])
        if options["name"] is not None:
            if not options["name"].strip():
                raise CommandError("--name cannot be empty")
            change_state(dataset, "name", dataset.name, options["name"].strip())
        if options["area"] is not None:
            change_state(dataset, "area", dataset.area, options["area"].strip())


def change_state(dataset: Dataset, field: str, old: str, new: str) -> None:
    """Move `field` from old to new with a conditional UPDATE that bumps the version."""
    if old == new:
        return
    changed = Dataset.objects.filter(pk=dataset.pk, **{field: old}).update(
        **{field: new}, version=F("version") + 1
    )
    if changed != 1:
        raise CommandError(f"{dataset.slug}: {field} is not '{old}'; nothing changed")
    if field in ("status", "visibility"):
        static_tile_jobs.rebuild_archives([dataset.pk])


def set_groups(dataset: Dataset, names: list[str]) -> None:
    groups = list(Group.objects.filter(name__in=names))
    unknown = sorted(set(names) - {group.name for group in groups})
    if unknown:
        raise CommandError(f"no such group(s): {', '.join(unknown)}")
    dataset.allowed_groups.set(groups)
    Dataset.objects.filter(pk=dataset.pk).update(version=F("version") + 1)
