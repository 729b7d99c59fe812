"""Decompose an ascending and a descending dataset into L3 up-down and east-west."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from groundmotion.models import Dataset
from processing.jobs import draft_notice, run_decompose


class Command(BaseCommand):
    help = "L3: grid both geometries (EPSG:3035), solve east and up per cell and date, re-fit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ascending", help="Ascending L2b dataset slug")
        parser.add_argument("descending", help="Descending L2b dataset slug")
        parser.add_argument("--grid", type=int, default=100, help="Cell size, metres")
        parser.add_argument("--up", required=True, help="Slug of the up-down output")
        parser.add_argument("--east", required=True, help="Slug of the east-west output")
        parser.add_argument("--gnss", default="", help="GNSS network whose north is removed")

    def handle(self, *args: Any, **options: Any) -> None:
        """1. read both inputs; 2. resample, grid and solve; 3. write both outputs at once."""
        parameters = {
            key: options[key] for key in ("ascending", "descending", "grid", "up", "east", "gnss")
        }
        try:
            up = run_decompose(parameters, lambda fraction, message: None)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{up.slug} and {options['east']}: {up.point_count} cells")
        self.stdout.write(draft_notice([up, Dataset.objects.get(slug=options["east"])]))
