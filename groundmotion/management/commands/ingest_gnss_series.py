"""Load GNSS station position series (NGL .tenv3, or a CSV of daily east, north, up in mm)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from groundmotion.ingest.errors import IngestError
from groundmotion.ingest.gnss_series import load_series


class Command(BaseCommand):
    help = (
        "Load GNSS station position series into a network, in one transaction: NGL .tenv3 "
        "files, or a CSV of station, date, east_mm, north_mm, up_mm (optional sigma_east_mm, "
        "sigma_north_mm, sigma_up_mm, latitude, longitude, height). Stored in mm relative to "
        "each station's first epoch."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", type=Path, nargs="+")
        parser.add_argument("--network", required=True, help="GNSS network slug")
        parser.add_argument(
            "--create",
            action="store_true",
            help="Create the network and stations missing from it, at the file's position",
        )
        parser.add_argument(
            "--replace", action="store_true", help="Reload stations that already have a series"
        )

    def handle(self, *args: Any, paths: list[Path], **options: Any) -> None:
        """1. parse and check each file; 2. load it in one transaction; 3. report per station."""
        for path in paths:
            try:
                network, loaded = load_series(
                    path, options["network"], create=options["create"], replace=options["replace"]
                )
            except IngestError as error:
                raise CommandError(f"{error}. Nothing of {path.name} was loaded.") from None
            for item in loaded:
                added = " (new station)" if item.created else ""
                self.stdout.write(
                    f"{network.slug}:{item.code}{added}: {item.count:,} days "
                    f"{item.first} to {item.last} from {path.name}"
                )
