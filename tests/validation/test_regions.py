"""Our chain against a plain numpy reference on synthetic regions with known truth.

bench/validation.py at a small size (its README section has the full-size table): the
make_demo region and three others (3 stations; 8 with a bad one; 20), each loaded into
PostGIS and run through calibrate and decompose as `make demo-products` does.
"""

from __future__ import annotations

import pytest

from bench import validation
from fixtures import validation_regions

POINTS = 4000


@pytest.fixture(scope="module")
def results(django_db_setup, django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        out = {}
        for region in validation_regions.REGIONS:
            out[region.name] = validation.validate(region, POINTS)
        validation.print_table(out)
        yield out
        from groundmotion.models import Dataset, GNSSNetwork

        for dataset in Dataset.objects.all():
            dataset.delete()
        GNSSNetwork.objects.all().delete()


@pytest.mark.parametrize("region", [r.name for r in validation_regions.REGIONS])
@pytest.mark.parametrize("figure", ["L2b asc", "L2b desc"])
def test_l2b_is_at_least_as_accurate_as_the_plain_reference(results, region, figure) -> None:
    ours, reference, floor = results[region]["table"][figure]
    raw = results[region]["table"][figure.replace("L2b", "L2a")][0]
    assert ours < raw / 2  # the calibration did something
    assert ours <= reference * 1.05 + 0.01, (region, figure, ours, reference)
    assert ours >= floor * 0.9  # nothing beats the noise: the harness measures what it says


@pytest.mark.parametrize("region", ["three", "eight", "twenty"])
@pytest.mark.parametrize("figure", ["L3 up", "L3 east"])
def test_l3_is_at_least_as_accurate_as_the_plain_reference(results, region, figure) -> None:
    """On regions whose L2a velocity column is the fit of its series, as in EGMS files.
    make_demo's column is the noise-free truth, which an L3 made from the series, as EGMS
    makes it, cannot use (bench/README.md "## validation")."""
    ours, reference, _ = results[region]["table"][figure]
    assert ours <= reference * 1.06 + 0.01, (region, figure, ours, reference)


def test_the_bad_station_is_rejected_and_reported(results) -> None:
    for report in results["eight"]["reports"].values():
        assert report["rejected"] == ["MUG0"]
        bad = next(s for s in report["stations"] if s["code"] == "MUG0")
        assert bad["rejected"] and abs(bad["left_out_misfit"]) > 3.0
        assert report["leave_one_out"]["rmse"] < 1.0


@pytest.mark.parametrize("region", ["three", "eight", "twenty"])
def test_velocity_stds_describe_the_actual_errors(results, region) -> None:
    """z = (ours - truth) / std: its variance near 1 (a factor of three either way: the
    calibration error is one draw per track, shared by all its points)."""
    for figure, variance in results[region]["zscores"].items():
        assert 1 / 3 < variance < 3, (region, figure, variance)
