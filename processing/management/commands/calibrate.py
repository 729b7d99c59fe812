"""GNSS calibration of one or more L2a datasets (tracks of one pass) into new L2b datasets."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from groundmotion.models import Dataset, GNSSNetwork
from processing.jobs import draft_notice
from processing.products.calibrate import calibrate_datasets


class Command(BaseCommand):
    help = (
        "Tie datasets to a GNSS network (L2b): fit and remove a long-wavelength surface per"
        " track; tracks of one pass given together are harmonised in their overlaps."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="+", help="Input dataset slugs (one pass)")
        parser.add_argument("--gnss", required=True, help="GNSS network slug")
        parser.add_argument(
            "--output",
            nargs="+",
            required=True,
            help="Slugs of the new L2b datasets, one per input",
        )

    def handle(
        self, *args: Any, slugs: list[str], gnss: str, output: list[str], **options: Any
    ) -> None:
        """1. station ties; 2. surfaces; 3. overlap offsets; 4. corrected copies; 5. report."""
        try:
            sources = [Dataset.objects.get(slug=slug) for slug in slugs]
            network = GNSSNetwork.objects.get(slug=gnss)
            outputs, report = calibrate_datasets(sources, network, output)
        except (ValueError, Dataset.DoesNotExist, GNSSNetwork.DoesNotExist) as error:
            raise CommandError(str(error)) from None
        for dataset, track in zip(outputs, report["tracks"], strict=True):
            self.write_track(dataset, track)
        if report["harmonisation"]:
            self.write_harmonisation(report["harmonisation"])
        self.stdout.write(draft_notice(outputs))

    def write_track(self, dataset: Dataset, report: dict) -> None:
        self.stdout.write(
            f"{dataset.slug}: {dataset.point_count} points, surface order {report['surface_order']}"
        )
        self.stdout.write("station  points  misfit before  misfit after (mm/yr)")
        for station in report["stations"]:
            self.stdout.write(
                f"{station['code']:8} {station['points']:6d} {station['misfit_before']:14.2f}"
                f" {station['misfit_after']:13.2f}"
            )
        self.stdout.write(f"RMS {report['rms_before']:.2f} -> {report['rms_after']:.2f} mm/yr")

    def write_harmonisation(self, harmonised: dict) -> None:
        for slug, offset in harmonised["offsets"].items():
            self.stdout.write(f"offset {slug}: {offset:+.2f} mm/yr")
        for overlap in harmonised["overlaps"]:
            first, second = overlap["tracks"]
            self.stdout.write(
                f"overlap {first} - {second}: {overlap['cells']} cells, difference"
                f" {overlap['difference_before']:+.2f} -> {overlap['difference_after']:+.2f} mm/yr"
            )
