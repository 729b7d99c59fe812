"""manage.py export_pmtiles SLUG OUT.pmtiles: a public dataset's anonymous tiles, static."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from groundmotion import static_tiles


class Command(BaseCommand):
    help = (
        "Write the tiles an anonymous user gets of a public or reduced dataset (cells and "
        "points, masks applied) into a PMTiles v3 archive, each tile the live endpoint's MVT. "
        "Drafts, registered and restricted datasets are refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("output", help="the .pmtiles file to write (replaced atomically)")
        parser.add_argument("--minzoom", type=int, default=0)
        parser.add_argument(
            "--maxzoom",
            type=int,
            default=None,
            help=f"default: the point zoom + {static_tiles.EXTRA_POINT_ZOOMS}",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = static_tiles.export_pmtiles(
                options["slug"],
                options["output"],
                min_zoom=options["minzoom"],
                max_zoom=options["maxzoom"],
            )
        except (static_tiles.NotPublic, ValueError) as refusal:
            raise CommandError(str(refusal)) from refusal
        self.stdout.write(
            f"{summary.path}: {summary.tiles:,} tiles (z{summary.min_zoom}-{summary.max_zoom}, "
            f"{summary.empty_skipped:,} empty skipped), {summary.bytes:,} bytes, "
            f"{summary.seconds:.1f} s"
        )
