"""The processing commands from the command line, and the reflector job through the API."""

from __future__ import annotations

import datetime
import io

import numpy as np
import pytest
from django.contrib.gis.geos import Point
from django.core.management import CommandError, call_command
from django.test import Client

from groundmotion.models import (
    CornerReflector,
    Dataset,
    MeasurementPoint,
    PointSeries,
    ProcessingJob,
    ReflectorMeasurement,
)
from processing.kernels import decomposition
from tests.factories import make_dataset
from tests.processing.long_series import long_dataset

ASCENDING_LOS = (-0.62, -0.10, 0.78)
DESCENDING_LOS = (0.59, -0.12, 0.80)


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def reflector(db) -> CornerReflector:
    return CornerReflector.objects.create(code="CR-T", geom=Point(-1.05, 43.7), leg_length=0.9)


def amplitude_stack(acquisitions: int, target: float) -> np.ndarray:
    rng = np.random.default_rng(6)
    clutter = rng.rayleigh(1 / np.sqrt(2), (acquisitions, 15, 15))
    clutter[:, 7, 7] += target
    return clutter


def numpy_scr_db(amplitudes: np.ndarray) -> np.ndarray:
    intensity = amplitudes**2
    window, big = intensity[:, 6:9, 6:9], intensity[:, 3:12, 3:12]
    clutter = (big.sum(axis=(1, 2)) - window.sum(axis=(1, 2))) / 72
    return 10 * np.log10((window.sum(axis=(1, 2)) - 9 * clutter) / clutter)


def test_reflector_command_stores_scr_per_acquisition(reflector, tmp_path) -> None:
    amplitudes = amplitude_stack(12, 30.0)
    path = tmp_path / "stack.npy"
    np.save(path, amplitudes)
    output = run("reflector", "CR-T", amplitudes=str(path), first_date="2022-01-01")
    rows = ReflectorMeasurement.objects.filter(reflector=reflector).order_by("acquisition_date")
    assert [row.acquisition_date for row in rows] == [
        datetime.date(2022, 1, 1) + datetime.timedelta(days=6 * i) for i in range(12)
    ]
    np.testing.assert_allclose([row.scr_db for row in rows], numpy_scr_db(amplitudes))
    assert "12 acquisitions" in output and "median SCR" in output


def test_reflector_command_refuses_an_unknown_reflector(db, tmp_path) -> None:
    np.save(tmp_path / "stack.npy", amplitude_stack(3, 30.0))
    with pytest.raises(CommandError, match="no corner reflector"):
        run("reflector", "NOPE", amplitudes=str(tmp_path / "stack.npy"), first_date="2022-01-01")


def post_job(user, kind: str, parameters: dict, capture) -> ProcessingJob:
    client = Client()
    client.force_login(user)
    with capture(execute=True):
        response = client.post(
            "/api/jobs/", {"kind": kind, "parameters": parameters}, content_type="application/json"
        )
    assert response.status_code == 201
    return ProcessingJob.objects.get(pk=response.json()["id"])


def test_reflector_job_runs_and_fails_cleanly(
    curator, reflector, tmp_path, django_capture_on_commit_callbacks
) -> None:
    amplitudes = amplitude_stack(4, 20.0)
    np.save(tmp_path / "stack.npy", amplitudes)
    dates = [f"2023-05-0{day}" for day in (1, 2, 3, 4)]
    parameters = {"reflector": "CR-T", "amplitudes": str(tmp_path / "stack.npy"), "dates": dates}
    job = post_job(curator, "reflector", parameters, django_capture_on_commit_callbacks)
    assert job.state == ProcessingJob.State.SUCCEEDED
    stored = ReflectorMeasurement.objects.filter(reflector=reflector).order_by("acquisition_date")
    np.testing.assert_allclose([row.scr_db for row in stored], numpy_scr_db(amplitudes))
    failing = {**parameters, "dates": dates[:3]}
    job = post_job(curator, "reflector", failing, django_capture_on_commit_callbacks)
    assert job.state == ProcessingJob.State.FAILED
    assert "4 acquisitions but 3 dates" in job.message
    assert stored.count() == 4


def test_reference_area_command_subtracts_the_area_mean(db) -> None:
    rng = np.random.default_rng(4)
    lon, lat = rng.uniform(-1.10, -1.00, 60), rng.uniform(43.70, 43.80, 60)
    rates = rng.normal(0, 4, 60) + np.where((lon < -1.05) & (lat < 43.75), 2.0, 0.0)
    dataset = long_dataset("area-ref", lon, lat, rates)
    area = "POLYGON((-1.10 43.70, -1.05 43.70, -1.05 43.75, -1.10 43.75, -1.10 43.70))"
    inside = (lon < -1.05) & (lat < 43.75)
    before = {
        p.point.pid: p.values()
        for p in PointSeries.objects.select_related("point").filter(point__dataset=dataset)
    }
    output = run("reference", "area-ref", area=area)
    pids = np.array([f"AREA{i:06d}" for i in range(60)])
    reference = np.mean([before[pid] for pid in pids[inside]], axis=0)
    for pid in pids[::7]:
        after = PointSeries.objects.get(point__dataset=dataset, point__pid=pid).values()
        np.testing.assert_allclose(after, before[pid] - reference, atol=0.051)  # 0.1 mm storage
    fitted = dict(MeasurementPoint.objects.filter(dataset=dataset).values_list("pid", "velocity"))
    assert abs(rates[inside].mean()) > 1.0  # the reference area moves: the shift shows
    expected = rates - rates[inside].mean()
    np.testing.assert_allclose([fitted[pid] for pid in pids], expected, atol=0.05)
    dataset.refresh_from_db()
    assert dataset.reference_area is not None and "re-referenced" in output


def test_reference_area_command_refuses_an_empty_area(db) -> None:
    make_dataset("empty-ref", lon=[-1.0], lat=[43.7], velocity=[1.0])
    with pytest.raises(CommandError, match="holds no points"):
        run("reference", "empty-ref", area="POLYGON((5 40, 6 40, 6 41, 5 41, 5 40))")


def los_dataset(
    slug: str,
    direction: str,
    los: tuple,
    east: float,
    up: float,
    rng: np.random.Generator,
    lon0: float = -1.06,
) -> Dataset:
    """Points near (lon0, 43.7) whose series are the LOS projection of a uniform motion."""
    count = 300
    lon, lat = rng.uniform(lon0, lon0 + 0.01, count), rng.uniform(43.700, 43.706, count)
    rate = los[0] * east + los[2] * up
    return long_dataset(slug, lon, lat, np.full(count, rate), direction, los)


def test_decompose_command_recovers_a_uniform_motion(db) -> None:
    rng = np.random.default_rng(9)
    los_dataset("asc-u", "ascending", ASCENDING_LOS, east=2.0, up=-3.0, rng=rng)
    los_dataset("desc-u", "descending", DESCENDING_LOS, east=2.0, up=-3.0, rng=rng)
    output = run("decompose", "asc-u", "desc-u", grid=100, up="l3-up", east="l3-east")
    up, east = Dataset.objects.get(slug="l3-up"), Dataset.objects.get(slug="l3-east")
    assert up.point_count == east.point_count > 20 and f"{up.point_count} cells" in output
    for dataset, truth in ((up, -3.0), (east, 2.0)):
        velocities = np.array(dataset.points.values_list("velocity", flat=True), dtype=float)
        np.testing.assert_allclose(velocities, truth, atol=0.05)
    cells = list(up.points.values_list("pid", "geom"))
    # Each pid names the 100 m EPSG:3035 cell its centre lies in.
    from pyproj import Transformer

    to_laea = Transformer.from_crs(4326, 3035, always_xy=True)
    easting, northing = to_laea.transform([g.x for _, g in cells], [g.y for _, g in cells])
    expected = decomposition.cell_pids(
        np.floor(np.array(easting) / 100).astype(int),
        np.floor(np.array(northing) / 100).astype(int),
    )
    assert [pid for pid, _ in cells] == expected.tolist()


def test_decompose_command_fails_without_common_cells(db) -> None:
    rng = np.random.default_rng(10)
    los_dataset("asc-far", "ascending", ASCENDING_LOS, east=0.0, up=0.0, rng=rng)
    los_dataset("desc-far", "descending", DESCENDING_LOS, east=0.0, up=0.0, rng=rng, lon0=-0.9)
    with pytest.raises(CommandError, match="no grid cell"):
        run("decompose", "asc-far", "desc-far", up="x-up", east="x-east")
    assert not Dataset.objects.filter(slug__in=["x-up", "x-east"]).exists()


def test_decompose_streams_bands_with_the_same_result(db, monkeypatch) -> None:
    from processing.products import decompose

    rng = np.random.default_rng(13)
    asc = los_dataset("asc-b", "ascending", ASCENDING_LOS, east=1.0, up=-2.0, rng=rng)
    desc = los_dataset("desc-b", "descending", DESCENDING_LOS, east=1.0, up=-2.0, rng=rng)
    whole = decompose.decompose_datasets(asc, desc, up_slug="w-up", east_slug="w-east")
    monkeypatch.setattr(decompose, "BAND_POINTS", 60)
    assert len(decompose.plan_bands([asc, desc], 100)[0]) >= 5
    banded = decompose.decompose_datasets(asc, desc, up_slug="b-up", east_slug="b-east")
    for one, other in zip(whole, banded, strict=True):
        first = dict(one.points.values_list("pid", "velocity"))
        second = dict(other.points.values_list("pid", "velocity"))
        assert first.keys() == second.keys() and len(first) > 20
        np.testing.assert_allclose([second[pid] for pid in first], list(first.values()), atol=1e-6)
