"""make_demo builds a region whose stored values agree with its ground truth."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from fixtures import demo_region
from groundmotion.models import (
    CornerReflector,
    Dataset,
    GNSSStation,
    MeasurementPoint,
    PointSeries,
    Status,
)
from tests.readback import point_columns

POINTS = 3000


@pytest.fixture
def demo(db) -> dict[str, Dataset]:
    call_command("make_demo", points=POINTS, seed=7, stdout=io.StringIO())
    return {dataset.pass_direction: dataset for dataset in Dataset.objects.all()}


def test_it_loads_two_published_tracks_gnss_and_a_reflector(demo) -> None:
    assert set(demo) == {"ascending", "descending"}
    for dataset in demo.values():
        assert dataset.point_count == POINTS
        assert dataset.status == Status.PUBLISHED
        assert 170 <= len(dataset.acquisition_dates) < 183  # 6-day over 3 years, a few missed
        steps = np.diff(np.array(dataset.acquisition_dates, dtype="datetime64[D]")).astype(int)
        assert set(steps) <= {6, 12, 18} and 12 in set(steps)
    assert PointSeries.objects.count() == 2 * POINTS
    assert GNSSStation.objects.count() == len(demo_region.GNSS_STATIONS)
    assert CornerReflector.objects.filter(code="DAX-CR1").exists()


def test_it_replaces_an_earlier_demo(demo) -> None:
    call_command("make_demo", points=100, seed=7, stdout=io.StringIO())
    assert Dataset.objects.count() == 2
    assert MeasurementPoint.objects.count() == 200
    assert GNSSStation.objects.count() == len(demo_region.GNSS_STATIONS)


def test_los_vectors_are_unit_and_point_to_the_satellite(demo) -> None:
    for direction, east_sign in (("ascending", -1), ("descending", 1)):
        los = point_columns(demo[direction])["los"]
        np.testing.assert_allclose(np.linalg.norm(los, axis=1), 1.0, atol=1e-6)
        assert np.all(np.sign(los[:, 0]) == east_sign)
        assert np.all(los[:, 1] < 0) and np.all(los[:, 2] > 0.7)


def test_each_velocity_is_the_truth_on_the_los_plus_the_track_error(demo) -> None:
    for dataset in demo.values():
        points = point_columns(dataset)
        # Independent projection: truth ENU dotted with the stored LOS vector.
        east, north, up = demo_region.true_enu_velocity(
            points["lon"], points["lat"], dataset.acquisition_dates
        )
        truth = np.einsum("ij,ij->i", np.column_stack([east, north, up]), points["los"])
        error = demo_region.track_error_velocity(
            dataset.provenance["track_error"], points["lon"], points["lat"]
        )
        np.testing.assert_allclose(points["velocity"], truth + error, atol=2e-4)
        assert np.ptp(error) > 1.0  # the ramp is there for calibration to remove


def test_the_series_agree_with_the_velocities_within_the_noise(demo) -> None:
    dataset = demo["ascending"]
    points = point_columns(dataset)
    series = {
        row.point_id: row.values() for row in PointSeries.objects.filter(point__dataset=dataset)
    }
    matrix = np.array([series[i] for i in points["id"]], dtype=np.float64)
    t = demo_region.years_since_first(dataset.acquisition_dates)
    design = np.column_stack([t, np.ones_like(t), np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)])
    fitted = np.linalg.lstsq(design, matrix.T, rcond=None)[0][0]
    residual = fitted - points["velocity"]
    # Noise of 1.5-4 mm over 3 years gives a velocity error of about 0.1-0.3 mm/yr.
    assert np.sqrt(np.mean(residual**2)) < 0.4
    assert abs(np.mean(residual)) < 0.05


def test_the_ground_truth_has_each_feature() -> None:
    dates = demo_region.acquisition_dates(3, 1)
    _, _, up = demo_region.true_enu_velocity(np.array([-1.050]), np.array([43.705]), dates)
    assert up[0] < -9  # subsidence bowl
    east, _, _ = demo_region.true_enu_velocity(np.array([-0.985]), np.array([43.590]), dates)
    assert east[0] < -6  # landslide moving west
    motion = demo_region.motion_components(np.array([-0.830, -1.305]), np.array([43.712, 43.660]))
    assert motion["seasonal_up"][0] > 4.5 and motion["acceleration_up"][1] < -2.5
    stable = demo_region.true_enu_velocity(np.array([-1.35]), np.array([43.90]), dates)
    assert max(abs(component[0]) for component in stable) < 0.01
