"""Load product files (EGMS CSV/ZIP, generic CSV, GeoPackage/Shapefile) into one dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from groundmotion.ingest import IngestError, IngestOptions, ingest
from groundmotion.ingest.describe import readable_name
from groundmotion.models import Component, Dataset, Level, PassDirection


def parse_mapping(items: list[str]) -> dict[str, str]:
    """'CODE=pid,VEL=mean_velocity' (repeatable) -> {'CODE': 'pid', 'VEL': 'mean_velocity'}."""
    mapping: dict[str, str] = {}
    for item in items:
        for pair in filter(None, (part.strip() for part in item.split(","))):
            source, equals, target = pair.partition("=")
            if not equals or not source.strip() or not target.strip():
                raise CommandError(f"--map expects SOURCE=TARGET pairs, not {pair!r}")
            mapping[source.strip()] = target.strip()
    return mapping


class Command(BaseCommand):
    help = (
        "Load point product files into one dataset, in one transaction: EGMS L2a/L2b/L3 as "
        ".csv or .zip (comma or semicolon), generic CSV (--map), GeoPackage or Shapefile "
        "point layers. Several files (bursts of one track) are merged, duplicates by pid "
        "skipped. Level and pass come from the EGMS file name or the LOS vector unless given."
    )
    # The system checks import every view and URL (about 1 s) and say nothing about a file
    # to load; `manage.py check` and the deployment run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="Product files")
        parser.add_argument("--dataset", required=True, help="Dataset slug")
        parser.add_argument(
            "--name",
            default="",
            help="Dataset name (default: from the EGMS file names, e.g. "
            "'L2b ascending track 88, burst 0296 IW2, 2019-2023')",
        )
        parser.add_argument("--area", help="Where the product lies, to group datasets (e.g. 'Dax')")
        parser.add_argument("--level", choices=Level.values)
        parser.add_argument(
            "--pass",
            dest="pass_direction",
            choices=[PassDirection.ASCENDING, PassDirection.DESCENDING],
        )
        parser.add_argument(
            "--component",
            choices=[Component.EAST_WEST, Component.UP_DOWN],
            help="L3 component when the file name does not say",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Reload an existing dataset (its settings are kept)",
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="SOURCE=TARGET[,...]",
            help="Column mapping to EGMS names, e.g. CODE=pid,VEL=mean_velocity",
        )

    def handle(self, *args: Any, paths: list[Path], **options: Any) -> None:
        """1. parse the options; 2. load in one transaction; 3. report."""
        ingest_options = IngestOptions(
            slug=options["dataset"],
            name=options["name"],
            level=options["level"],
            pass_direction=options["pass_direction"],
            component=options["component"],
            replace=options["replace"],
            mapping=parse_mapping(options["map"]),
        )
        try:
            report = ingest(paths, ingest_options)
        except IngestError as error:
            raise CommandError(f"{error}. Nothing was loaded.") from None
        dataset = report.dataset
        self.describe(dataset, options["name"], options["area"])
        self.stdout.write(
            f"{dataset.slug}: {report.points:,} points x {len(dataset.acquisition_dates)} dates "
            f"({dataset.level}, {dataset.pass_direction or dataset.component}) from "
            f"{len(report.files)} file(s) in {report.seconds:.1f} s "
            f"({report.points / max(report.seconds, 1e-9):,.0f} points/s)"
        )
        area = f" (area {dataset.area})" if dataset.area else ""
        self.stdout.write(f"name: {dataset.name}{area}")
        if report.skipped_duplicates:
            self.stdout.write(
                f"skipped {report.skipped_duplicates:,} points already loaded "
                "from an earlier file (same pid)"
            )
        if dataset.extra_columns:
            self.stdout.write(f"kept extra columns: {', '.join(dataset.extra_columns)}")
        if report.ignored_columns:
            self.stdout.write(f"ignored non-numeric columns: {', '.join(report.ignored_columns)}")

    def describe(self, dataset: Dataset, name: str, area: str | None) -> None:
        """Name a dataset the loader named by its slug (new, no --name) after its files, and
        set its area when given; a reload keeps a name and an area it already has."""
        changes: dict[str, str] = {}
        if area is not None:
            changes["area"] = dataset.area = area
        if not name and dataset.name == dataset.slug:
            changes["name"] = dataset.name = readable_name(
                dataset.provenance.get("files", []),
                level=dataset.level,
                pass_direction=dataset.pass_direction,
                component=dataset.component,
                relative_orbit=dataset.relative_orbit,
                dates=dataset.acquisition_dates,
                area=dataset.area,
            )
        if changes:
            Dataset.objects.filter(pk=dataset.pk).update(**changes)
