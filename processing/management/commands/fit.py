"""Recompute a dataset's parameters from its series."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from groundmotion.models import Dataset
from processing.products.fit import fit_dataset


class Command(BaseCommand):
    help = "Re-fit velocity, acceleration, seasonality, RMSE and coherence from the series."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Dataset slug")

    def handle(self, *args: Any, slug: str, **options: Any) -> None:
        """1. find the dataset; 2. stream, fit and write its parameters in one transaction."""
        dataset = Dataset.objects.filter(slug=slug).first()
        if dataset is None:
            raise CommandError(f"no dataset {slug!r}")
        try:
            timings = fit_dataset(dataset)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{dataset.slug}: {timings['points']} points re-fitted (version {dataset.version})"
            f" in {timings['total_s']:.2f} s; kernel load {timings['load_s']:.2f} s,"
            f" extract {timings['extract_s']:.2f} s, kernel {timings['kernel_s']:.2f} s,"
            f" write {timings['write_s']:.2f} s"
        )
