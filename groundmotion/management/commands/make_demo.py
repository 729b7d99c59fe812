"""Load the synthetic Dax region: two L2a tracks, GNSS stations and a corner reflector."""

from __future__ import annotations

import time
from typing import Any

from django.contrib.gis.geos import Point
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from fixtures import demo_region
from groundmotion.models import (
    Component,
    CornerReflector,
    Dataset,
    GNSSNetwork,
    GNSSStation,
    Level,
    Status,
    Visibility,
)
from groundmotion.quantities import role_name
from groundmotion.storage import copy_in, partitions, queries

GNSS_NETWORK = "demo-gnss"
AREA = "Dax"


class Command(BaseCommand):
    help = (
        "Create the synthetic demo region near Dax: an ascending and a descending L2a dataset "
        "(published), GNSS stations and a corner reflector. Replaces an earlier demo."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--points", type=int, default=50_000, help="Points per track")
        parser.add_argument("--seed", type=int, default=1, help="Random seed")
        parser.add_argument("--years", type=float, default=3.0, help="Length of the series")

    def handle(self, *args: Any, points: int, seed: int, years: float, **options: Any) -> None:
        """1. dates; 2. each track in its own transaction; 3. GNSS and reflector; 4. analyse."""
        dates = demo_region.acquisition_dates(years, seed)
        for track in demo_region.TRACKS:
            started = time.perf_counter()
            # The staged points table is dropped after a rollback, so it wraps the transaction.
            with partitions.StagedPoints() as staged, transaction.atomic():
                dataset = load_track(track, points, dates, seed, staged)
            elapsed = time.perf_counter() - started
            self.stdout.write(
                f"{dataset.slug}: {dataset.point_count} points x {len(dates)} dates "
                f"in {elapsed:.1f} s ({dataset.point_count / elapsed:,.0f} points/s)"
            )
        with transaction.atomic():
            load_gnss(dates, seed)
            load_reflector()
        queries.analyze_point_tables()
        self.stdout.write(f"GNSS network {GNSS_NETWORK}: {len(demo_region.GNSS_STATIONS)} stations")


def load_track(
    track: demo_region.Track, points: int, dates: list, seed: int, staged: partitions.StagedPoints
) -> Dataset:
    Dataset.objects.filter(slug=track.slug).delete()
    name = role_name(
        area=AREA,
        level=Level.L2A,
        component=Component.LOS,
        pass_direction=track.pass_direction,
        relative_orbit=track.relative_orbit,
        dates=dates,
    )
    dataset = Dataset.objects.create(
        slug=track.slug,
        name=f"{name} (synthetic)",
        area=AREA,
        description="Synthetic PS-InSAR track over Dax with known ground truth.",
        level=Level.L2A,
        pass_direction=track.pass_direction,
        relative_orbit=track.relative_orbit,
        acquisition_dates=dates,
        reference_date=dates[0],
        status=Status.PUBLISHED,
        visibility=Visibility.PUBLIC,
        licence="CC0",
        attribution="Synthetic data (Ground Motion Service demo)",
        provenance={
            "generator": "fixtures.demo_region",
            "seed": seed,
            "points": points,
            "track_error": track.error_parameters(),
        },
    )
    for chunk in demo_region.generate_track(track, points, dates, seed):
        ids = copy_in.reserve_point_ids(len(chunk["pid"]), dataset.pk)
        copy_in.copy_points(
            dataset, ids, chunk["pid"], chunk["lon"], chunk["lat"], chunk["attributes"], staged
        )
        copy_in.copy_series(ids, chunk["series"])
    copy_in.finish_load(dataset, staged)
    return dataset


def load_gnss(dates: list, seed: int) -> None:
    GNSSNetwork.objects.filter(slug=GNSS_NETWORK).delete()
    network = GNSSNetwork.objects.create(
        slug=GNSS_NETWORK,
        name="Demo GNSS network (synthetic, Dax)",
        reference_frame="ETRF2000",
        epoch=2022.5,
        source="fixtures.demo_region",
    )
    GNSSStation.objects.bulk_create(
        GNSSStation(
            network=network,
            code=station["code"],
            geom=Point(station["lon"], station["lat"], srid=4326),
            velocity_east=station["east"],
            velocity_north=station["north"],
            velocity_up=station["up"],
            velocity_east_std=station["std"],
            velocity_north_std=station["std"],
            velocity_up_std=station["std"],
        )
        for station in demo_region.gnss_velocities(dates, seed)
    )


def load_reflector() -> None:
    spec = demo_region.REFLECTOR
    CornerReflector.objects.update_or_create(
        code=spec["code"],
        defaults={
            "geom": Point(spec["lon"], spec["lat"], srid=4326),
            "leg_length": spec["leg_length"],
            "apex_height": 1.2,
            "facing_orbits": [track.relative_orbit for track in demo_region.TRACKS],
        },
    )
