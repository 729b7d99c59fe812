"""Export one dataset's points as EGMS CSV, GeoPackage or GeoTIFF (L3)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.management.base import BaseCommand, CommandError, CommandParser

from groundmotion import access
from groundmotion.exports.area import AreaError, parse_area, within
from groundmotion.exports.writers import ExportError, Format, write_export
from groundmotion.models import Dataset


class Command(BaseCommand):
    help = (
        "Export a dataset (drafts included) for a bbox or polygon. Masked areas are left out "
        "unless --include-masked is given. Units: mm, mm/yr. Positive values: LOS (L2a, L2b) "
        "towards the satellite, L3 east-west towards the east, L3 up-down upwards; the "
        "GeoPackage's layer metadata and the GeoTIFF's band description say which."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Dataset slug")
        parser.add_argument("--format", choices=Format.ALL, default=Format.CSV)
        parser.add_argument("--bbox", help="MINLON,MINLAT,MAXLON,MAXLAT (degrees)")
        parser.add_argument("--polygon", help="WKT polygon (WGS84)")
        parser.add_argument(
            "--include-masked", action="store_true", help="Also export points inside masked areas"
        )
        parser.add_argument("-o", "--output", required=True, type=Path, help="Output file")

    def handle(self, *args: Any, **options: Any) -> None:
        """1. find the dataset; 2. parse the area; 3. select points through access.py; 4. write."""
        dataset = Dataset.objects.filter(slug=options["slug"]).first()
        if dataset is None:
            raise CommandError(f"No dataset {options['slug']!r}.")
        try:
            area = parse_area(options["bbox"], options["polygon"])
        except AreaError as error:
            raise CommandError(str(error)) from None
        if options["include_masked"]:
            points = dataset.points.all()
        else:
            points = access.aggregatable_points(AnonymousUser(), dataset)
        started = time.perf_counter()
        try:
            result = write_export(
                options["format"], within(points, area), dataset, options["output"]
            )
        except ExportError as error:
            raise CommandError(str(error)) from None
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"{dataset.slug}: {result.point_count} points, {result.byte_count} "
            f"bytes to {options['output']} in {elapsed:.1f} s"
        )
