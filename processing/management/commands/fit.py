"""Recompute a dataset's parameters from its series."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from processing.jobs import run_fit


class Command(BaseCommand):
    help = "Re-fit velocity, acceleration, seasonality, RMSE and coherence from the series."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Dataset slug")

    def handle(self, *args: Any, slug: str, **options: Any) -> None:
        """1. find the dataset; 2. stream, fit and write its parameters in one transaction."""
        try:
            dataset = run_fit({"dataset": slug}, lambda fraction, message: None)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{dataset.slug}: parameters re-fitted (version {dataset.version})")
