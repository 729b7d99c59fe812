"""Load GNSS station velocities (station table, EGMS GNSS model CSV, GAMIT/GLOBK .vel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from groundmotion.ingest.errors import IngestError
from groundmotion.ingest.gnss import load_network


class Command(BaseCommand):
    help = (
        "Load GNSS station velocities (mm/yr) into a network, in one transaction: a station "
        "table (station, latitude, longitude, east, north, up, sigma_east, sigma_north, "
        "sigma_up), the EGMS GNSS model CSV, or a GAMIT/GLOBK .vel file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--network", required=True, help="Network slug")
        parser.add_argument("--name", help="Network name (default: the slug)")
        parser.add_argument("--frame", dest="reference_frame", help="e.g. ETRF2000")
        parser.add_argument("--epoch", type=float, help="Reference epoch, decimal year")
        parser.add_argument("--replace", action="store_true", help="Reload an existing network")

    def handle(self, *args: Any, path: Path, **options: Any) -> None:
        """1. parse and check the whole table; 2. load it in one transaction; 3. report."""
        try:
            network, table = load_network(
                path,
                options["network"],
                options["replace"],
                name=options["name"],
                reference_frame=options["reference_frame"],
                epoch=options["epoch"],
            )
        except IngestError as error:
            raise CommandError(f"{error}. Nothing was loaded.") from None
        self.stdout.write(f"{network.slug}: {len(table.codes):,} stations from {path.name}")
        if table.renamed_duplicates:
            self.stdout.write(
                f"renamed {table.renamed_duplicates} repeated station codes with a _2, _3... suffix"
            )
