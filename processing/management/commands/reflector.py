"""Measure a corner reflector's SCR and RCS from an amplitude stack."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from groundmotion.models import CornerReflector, Dataset
from processing.products.reflector import measure_reflector


def acquisition_dates(options: dict[str, Any], count: int) -> list[datetime.date]:
    if options["dataset"]:
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}")
        return list(dataset.acquisition_dates)[:count]
    if not options["first_date"]:
        raise CommandError("give --dataset or --first-date for the acquisition dates")
    first = datetime.date.fromisoformat(options["first_date"])
    return [first + datetime.timedelta(days=options["interval_days"] * i) for i in range(count)]


class Command(BaseCommand):
    help = "Store SCR (dB) and RCS (dBm²) per acquisition from an amplitude stack (.npy)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="Corner reflector code")
        parser.add_argument("--amplitudes", required=True, help="acquisitions x rows x cols")
        parser.add_argument("--dataset", default="", help="Take the dates from this dataset")
        parser.add_argument("--first-date", default="", help="First acquisition, YYYY-MM-DD")
        parser.add_argument("--interval-days", type=int, default=6)
        parser.add_argument("--relative-orbit", type=int, default=None)
        parser.add_argument("--pixel-area", type=float, default=1.0, help="m² per pixel")

    def handle(self, *args: Any, **options: Any) -> None:
        """1. load the stack; 2. dates; 3. SCR/RCS per acquisition, stored in one transaction."""
        reflector = CornerReflector.objects.filter(code=options["code"]).first()
        if reflector is None:
            raise CommandError(f"no corner reflector {options['code']!r}")
        amplitudes = np.load(options["amplitudes"])
        dates = acquisition_dates(options, len(amplitudes))
        try:
            summary = measure_reflector(
                reflector, amplitudes, dates, options["relative_orbit"], options["pixel_area"]
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{reflector.code}: {summary['acquisitions']} acquisitions, median SCR "
            f"{summary['median_scr_db']:.1f} dB, theoretical RCS "
            f"{summary['theoretical_rcs_dbm2']:.1f} dBm², expected LOS std "
            f"{summary['expected_los_std_mm']:.2f} mm"
        )
