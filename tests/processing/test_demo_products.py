"""Products on make_demo data against the demo's ground truth (fixtures/demo_region.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from fixtures import demo_region
from groundmotion.models import Dataset, GNSSNetwork, MeasurementPoint, PointSeries
from processing.products import fit
from processing.products.calibrate import calibrate_dataset
from processing.products.decompose import decompose_datasets
from tests.readback import point_columns

POINTS = 4000


@pytest.fixture
def demo(db) -> dict:
    call_command("make_demo", points=POINTS, seed=3, years=3.0, stdout=io.StringIO())
    return {
        track.pass_direction: Dataset.objects.get(slug=track.slug) for track in demo_region.TRACKS
    }


def rmse(values: np.ndarray) -> float:
    return float(np.sqrt(np.nanmean(values**2)))


def test_fit_recomputes_noise_free_truth_within_the_noise(demo) -> None:
    dataset = demo["ascending"]
    version = dataset.version
    fit.fit_dataset(dataset)
    points = point_columns(dataset, "pid")
    truth = demo_region.true_los_velocity(
        demo_region.TRACKS[0],
        points["lon"],
        points["lat"],
        points["los_by_name"],
        dataset.acquisition_dates,
    )
    std = np.array(
        MeasurementPoint.objects.filter(dataset=dataset)
        .order_by("pid")
        .values_list("velocity_std", flat=True),
        dtype=float,
    )
    normalised = (points["velocity"] - truth) / std
    assert 0.8 < np.std(normalised) < 1.2  # the propagated std describes the real scatter
    dataset.refresh_from_db()
    assert dataset.version > version
    assert dataset.provenance["processing"][-1]["step"] == "fit"


def calibrated(demo: dict) -> dict[str, Dataset]:
    network = GNSSNetwork.objects.get(slug="demo-gnss")
    out = {}
    for direction, dataset in demo.items():
        out[direction], report = calibrate_dataset(dataset, network, f"{dataset.slug}-l2b")
        assert report["rms_after"] < report["rms_before"]
    return out


def test_calibration_gives_l2b_velocities_at_the_true_los_velocity(demo) -> None:
    l2b = calibrated(demo)
    for track in demo_region.TRACKS:
        dataset = l2b[track.pass_direction]
        points = point_columns(dataset, "pid")
        truth = demo_region.true_los_velocity(
            track,
            points["lon"],
            points["lat"],
            points["los_by_name"],
            dataset.acquisition_dates,
            with_error=False,
        )
        error = rmse(points["velocity"] - truth)
        before = rmse(point_columns(demo[track.pass_direction], "pid")["velocity"] - truth)
        print(f"L2b {track.pass_direction}: velocity RMSE {error:.2f} mm/yr (L2a {before:.2f})")
        assert error < 0.6
        assert error < before / 2
        assert dataset.level == "l2b" and dataset.point_count == POINTS


def test_decomposition_matches_true_east_and_up_away_from_the_landslide_edge(demo) -> None:
    l2b = calibrated(demo)
    up, east = decompose_datasets(
        l2b["ascending"], l2b["descending"], up_slug="demo-u", east_slug="demo-e", cell_size=500
    )
    cells = MeasurementPoint.objects.filter(dataset=up).order_by("pid")
    lon = np.array([p.geom.x for p in cells])
    lat = np.array([p.geom.y for p in cells])
    east_truth, _, up_truth = demo_region.true_enu_velocity(lon, lat, up.acquisition_dates)
    x, y = demo_region.local_km(
        lon, lat, demo_region.LANDSLIDE["lon"], demo_region.LANDSLIDE["lat"]
    )
    ellipse = np.hypot(x / demo_region.LANDSLIDE["a_km"], y / demo_region.LANDSLIDE["b_km"])
    away = np.abs(ellipse - 1) > 0.5
    up_velocity = np.array([p.velocity for p in cells])
    east_velocity = np.array(
        MeasurementPoint.objects.filter(dataset=east)
        .order_by("pid")
        .values_list("velocity", flat=True),
        dtype=float,
    )
    up_error, east_error = (
        rmse((up_velocity - up_truth)[away]),
        rmse((east_velocity - east_truth)[away]),
    )
    print(f"L3 ({away.sum()} cells): up RMSE {up_error:.2f}, east RMSE {east_error:.2f} mm/yr")
    assert away.sum() > 50
    assert up_error < 1.0 and east_error < 1.0
    assert up.level == "l3" and east.component == "east-west"


def test_reference_to_the_reflector_zeroes_the_nearest_point(demo) -> None:
    dataset = demo["ascending"]
    result = fit.reference_dataset(dataset, reflector="DAX-CR1")
    dataset.refresh_from_db()
    assert dataset.reference_pid == result["pid"]
    series = PointSeries.objects.get(point__dataset=dataset, point__pid=result["pid"]).values()
    assert np.allclose(series, 0.0)
    reflector_lon = demo_region.REFLECTOR["lon"]
    nearest = MeasurementPoint.objects.get(dataset=dataset, pid=result["pid"])
    assert abs(nearest.geom.x - reflector_lon) < 0.01


def test_failed_calibration_leaves_no_dataset(demo) -> None:
    GNSSNetwork.objects.create(slug="far-away", name="far")
    with pytest.raises(ValueError, match="no station"):
        calibrate_dataset(demo["ascending"], GNSSNetwork.objects.get(slug="far-away"), "half")
    assert not Dataset.objects.filter(slug="half").exists()
