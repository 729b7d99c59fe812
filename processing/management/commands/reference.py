"""Re-reference a dataset to a point, a corner reflector or the mean of an area."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from processing.jobs import run_reference


class Command(BaseCommand):
    help = "Subtract a reference series (point, reflector or area mean) and re-fit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Dataset slug")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--point", default="", help="Reference point pid")
        group.add_argument("--reflector", default="", help="Corner reflector code")
        group.add_argument("--area", default="", help="Reference area, WKT in WGS84")

    def handle(
        self, *args: Any, slug: str, point: str, reflector: str, area: str, **options: Any
    ) -> None:
        """1. the reference series; 2. subtract it everywhere and re-fit, in one transaction."""
        parameters = {"dataset": slug, "point": point, "reflector": reflector, "area": area}
        try:
            dataset = run_reference(parameters, lambda fraction, message: None)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{dataset.slug}: re-referenced (version {dataset.version})")
