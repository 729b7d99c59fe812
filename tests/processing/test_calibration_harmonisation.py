"""Two overlapping ascending tracks calibrated together agree on their common ground.

Truth: uniform uplift 1.923 mm/yr (LOS 1.50 mm/yr on track A, 1.52 on track B). Each L2a
track carries its own offset (+3 and -2 mm/yr). Two GNSS stations lie under each track
alone; one station under B is biased (+1 mm/yr up), so B calibrated alone ends 0.40 mm/yr
high and the tracks disagree by ~0.41 mm/yr in their overlap. Calibrated together, the
overlap offset is split by the station-weighted rule (2 stations each: half each).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.contrib.gis.geos import Point
from django.core.management import call_command

from groundmotion.models import Dataset, GNSSNetwork, GNSSStation, MeasurementPoint
from processing.products.calibrate import calibrate_dataset, calibrate_datasets
from tests.processing.long_series import long_dataset

UP = 1.923
TRACKS = {  # slug: (lon range, LOS vector, L2a offset mm/yr)
    "track-a": ((-1.10, -1.00), (-0.62, -0.10, 0.78), 3.0),
    "track-b": ((-1.03, -0.93), (-0.60, -0.10, 0.79), -2.0),
}
STATIONS = [("A1", -1.09, 0.0), ("A2", -1.06, 0.0), ("B1", -0.96, 0.0), ("B2", -0.94, 1.0)]
OVERLAP = (-1.03, -1.00)


@pytest.fixture
def tracks(db) -> dict[str, Dataset]:
    rng = np.random.default_rng(12)
    out = {}
    for slug, ((west, east), los, offset) in TRACKS.items():
        lon, lat = rng.uniform(west, east, 2000), rng.uniform(43.70, 43.74, 2000)
        rates = np.full(2000, UP * los[2] + offset)
        out[slug] = long_dataset(slug, lon, lat, rates, "ascending", los)
    network = GNSSNetwork.objects.create(slug="gnss-h", name="h")
    for code, lon, bias in STATIONS:
        GNSSStation.objects.create(
            network=network,
            code=code,
            geom=Point(lon, 43.72),
            velocity_east=0.0,
            velocity_north=0.0,
            velocity_up=UP + bias,
        )
    return out


def overlap_velocity(dataset: Dataset) -> float:
    rows = MeasurementPoint.objects.filter(dataset=dataset).values_list("geom", "velocity")
    values = [v for geom, v in rows if OVERLAP[0] < geom.x < OVERLAP[1]]
    return float(np.mean(values))


def test_tracks_calibrated_alone_disagree_in_their_overlap(tracks) -> None:
    network = GNSSNetwork.objects.get(slug="gnss-h")
    a, _ = calibrate_dataset(tracks["track-a"], network, "a-alone")
    b, _ = calibrate_dataset(tracks["track-b"], network, "b-alone")
    assert overlap_velocity(a) - overlap_velocity(b) == pytest.approx(-0.41, abs=0.05)


def test_tracks_calibrated_together_agree_in_their_overlap(tracks) -> None:
    network = GNSSNetwork.objects.get(slug="gnss-h")
    outputs, report = calibrate_datasets(
        [tracks["track-a"], tracks["track-b"]], network, ["a-l2b", "b-l2b"]
    )
    offsets = report["harmonisation"]["offsets"]
    assert offsets["track-a"] == pytest.approx(-0.207, abs=0.03)
    assert offsets["track-b"] == pytest.approx(0.207, abs=0.03)
    (overlap,) = report["harmonisation"]["overlaps"]
    assert overlap["cells"] >= 10
    assert abs(overlap["difference_before"]) > 0.35 > 0.02 > abs(overlap["difference_after"])
    a, b = outputs
    assert abs(overlap_velocity(a) - overlap_velocity(b)) < 0.03
    assert overlap_velocity(a) == pytest.approx(1.50 + 0.207, abs=0.03)
    assert a.provenance["harmonisation"]["offsets"] == offsets


def test_the_command_calibrates_several_tracks_and_refuses_mixed_passes(tracks) -> None:
    out = io.StringIO()
    call_command("calibrate", "track-a", "track-b", gnss="gnss-h", output=["a2", "b2"], stdout=out)
    assert "overlap track-a - track-b" in out.getvalue()
    assert Dataset.objects.filter(slug__in=["a2", "b2"], level="l2b").count() == 2
    Dataset.objects.filter(slug="track-b").update(pass_direction="descending")
    with pytest.raises(Exception, match="one pass direction"):
        call_command(
            "calibrate",
            "track-a",
            "track-b",
            gnss="gnss-h",
            output=["a3", "b3"],
            stdout=io.StringIO(),
        )
    assert not Dataset.objects.filter(slug__in=["a3", "b3"]).exists()


def test_calibration_keeps_the_source_extra_columns(tracks) -> None:
    from groundmotion.models import PointExtra
    from groundmotion.storage import copy_in

    source = tracks["track-a"]
    points = list(
        MeasurementPoint.objects.filter(dataset=source).order_by("id").values_list("id", "pid")
    )
    ids = np.array([point_id for point_id, _ in points[:-5]])  # the last five have none
    values = np.column_stack([ids * 10.0 + 0.5, -ids.astype(float)])
    copy_in.copy_extras(ids, values)
    source.extra_columns = ["easting", "line"]
    source.save(update_fields=["extra_columns"])
    output, _ = calibrate_dataset(source, GNSSNetwork.objects.get(slug="gnss-h"), "a-extra")
    assert output.extra_columns == ["easting", "line"]
    expected = {pid: (point_id * 10.0 + 0.5, -float(point_id)) for point_id, pid in points[:-5]}
    stored = {
        row.point.pid: row.as_dict(output.extra_columns)
        for row in PointExtra.objects.filter(point__dataset=output).select_related("point")
    }
    assert len(stored) == len(points)
    for pid, (easting, line) in expected.items():
        assert stored[pid] == {"easting": easting, "line": line}
    missing = [pid for _, pid in points[-5:]]
    assert all(np.isnan(stored[pid]["easting"]) for pid in missing)
