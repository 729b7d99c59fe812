"""GNSS calibration of an L2a dataset into a new L2b dataset."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from groundmotion.models import Dataset, GNSSNetwork
from processing.products.calibrate import calibrate_dataset


class Command(BaseCommand):
    help = "Tie a dataset to a GNSS network (L2b): fit and remove a long-wavelength surface."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Input dataset slug")
        parser.add_argument("--gnss", required=True, help="GNSS network slug")
        parser.add_argument("--output", required=True, help="Slug of the new L2b dataset")

    def handle(self, *args: Any, slug: str, gnss: str, output: str, **options: Any) -> None:
        """1. station ties; 2. surface; 3. corrected, re-fitted copy; 4. the report."""
        try:
            source = Dataset.objects.get(slug=slug)
            network = GNSSNetwork.objects.get(slug=gnss)
            dataset, report = calibrate_dataset(source, network, output)
        except (ValueError, Dataset.DoesNotExist, GNSSNetwork.DoesNotExist) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{dataset.slug}: {dataset.point_count} points, surface order "
                          f"{report['surface_order']}")  # fmt: skip
        self.stdout.write("station  points  misfit before  misfit after (mm/yr)")
        for station in report["stations"]:
            self.stdout.write(
                f"{station['code']:8} {station['points']:6d} {station['misfit_before']:14.2f}"
                f" {station['misfit_after']:13.2f}"
            )
        self.stdout.write(f"RMS {report['rms_before']:.2f} -> {report['rms_after']:.2f} mm/yr")
