"""Ingest of real third-party products, as distributed (../shared/data/real/)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pyogrio
import pytest
from django.core.management import call_command
from pyproj import Transformer

from groundmotion.models import Dataset, MeasurementPoint, PointSeries
from tests.real_data import REAL_DATA

REAL = REAL_DATA
USTICA = REAL / "egms-ortho-product"
L2B_ASC = USTICA / "EGMS_L2b_117_0227_IW2_VV_2020_2024_1.zip"
L2B_DESC = USTICA / "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip"
L3_UP = USTICA / "EGMS_L3_E45N17_100km_U_2020_2024_1.zip"
L3_EAST = USTICA / "EGMS_L3_E45N17_100km_E_2020_2024_1.zip"
pytestmark = pytest.mark.skipif(not REAL.exists(), reason="real data folder not present")


def csv_rows(path: Path, count: int) -> tuple[list[str], list[list[str]]]:
    """Header and the first rows, read with the csv module (an independent reader)."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        with archive.open(name) as stream:
            reader = csv.reader(io.TextIOWrapper(stream, encoding="utf-8"))
            header = next(reader)
            return header, [next(reader) for _ in range(count)]


def check_rows_stored(dataset: Dataset, header: list[str], rows: list[list[str]]) -> None:
    first_date = next(i for i, name in enumerate(header) if name.isdigit())
    for row in rows:
        record = dict(zip(header, row, strict=True))
        point = MeasurementPoint.objects.get(dataset=dataset, pid=record["pid"])
        assert point.velocity == pytest.approx(float(record["mean_velocity"]), abs=1e-6)
        assert point.rmse == pytest.approx(float(record["rmse_ts"]), abs=1e-6)
        assert point.height == pytest.approx(float(record["height_ortho"]), abs=1e-4)
        series = PointSeries.objects.get(point=point).values()
        expected = np.array([float(value) for value in row[first_date:]], dtype=np.float32)
        # EGMS writes 0.1 mm, the precision series_codec stores: equal up to float32 rounding.
        np.testing.assert_allclose(series, expected, rtol=0, atol=1e-4)


@pytest.mark.django_db
def test_ustica_l2b_ascending_zip_loads_as_it_is() -> None:
    call_command("ingest", str(L2B_ASC), "--dataset", "ustica-asc")

    dataset = Dataset.objects.get(slug="ustica-asc")
    assert (dataset.level, dataset.pass_direction, dataset.relative_orbit) == (
        "l2b",
        "ascending",
        117,
    )
    assert (dataset.point_count, len(dataset.acquisition_dates)) == (11_759, 207)
    assert dataset.acquisition_dates[0].isoformat() == "2020-01-03"
    assert dataset.acquisition_dates[-1].isoformat() == "2024-12-31"
    assert dataset.metadata["headers"][L2B_ASC.name]["BURST"]["track"] == "117"
    assert "gnss_velocity" in dataset.extra_columns
    header, rows = csv_rows(L2B_ASC, 3)
    check_rows_stored(dataset, header, rows)
    point = MeasurementPoint.objects.get(dataset=dataset, pid=rows[0][0])
    assert point.geom.y == pytest.approx(float(rows[0][header.index("latitude")]), abs=1e-9)
    assert point.geom.x == pytest.approx(float(rows[0][header.index("longitude")]), abs=1e-9)


@pytest.mark.django_db
def test_ustica_l2b_descending_pass_comes_from_the_los_vector() -> None:
    call_command("ingest", str(L2B_DESC), "--dataset", "ustica-desc")

    dataset = Dataset.objects.get(slug="ustica-desc")
    assert (dataset.pass_direction, dataset.relative_orbit) == ("descending", 22)
    assert (dataset.point_count, len(dataset.acquisition_dates)) == (11_590, 210)


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "component"), [(L3_UP, "up-down"), (L3_EAST, "east-west")])
def test_ustica_l3_zip_converts_the_laea_grid_to_wgs84(path: Path, component: str) -> None:
    call_command("ingest", str(path), "--dataset", "ustica-l3")

    dataset = Dataset.objects.get(slug="ustica-l3")
    assert (dataset.level, dataset.component, dataset.pass_direction) == ("l3", component, "")
    assert (dataset.point_count, len(dataset.acquisition_dates), dataset.grid_size_m) == (
        522,
        304,
        100,
    )
    header, rows = csv_rows(path, 2)
    check_rows_stored(dataset, header, rows)
    back = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)
    for row in rows:
        point = MeasurementPoint.objects.get(dataset=dataset, pid=row[0])
        easting, northing = back.transform(point.geom.x, point.geom.y)
        assert easting == pytest.approx(float(row[1]), abs=1e-3)
        assert northing == pytest.approx(float(row[2]), abs=1e-3)
        extra = point.extra.as_dict(dataset.extra_columns)
        assert (extra["easting"], extra["northing"]) == (float(row[1]), float(row[2]))


@pytest.mark.django_db
def test_sdfi_geopackage_points_load_with_a_mapping() -> None:
    path = REAL / "sdfi-diveg" / "insar-test.gpkg"
    call_command(
        "ingest",
        str(path),
        "--dataset",
        "skagen",
        "--level",
        "l3",
        "--component",
        "up-down",
        "--map",
        "VEL_V=mean_velocity,VEL_STD_V=mean_velocity_std",
    )

    dataset = Dataset.objects.get(slug="skagen")
    assert dataset.point_count == 1246
    assert dataset.acquisition_dates == []
    assert dataset.extra_columns == ["VEL_V_NOUPLIFT", "VEL_STD_V_NOUPLIFT", "VEL_E", "VEL_STD_E"]
    lon_min, lat_min, lon_max, lat_max = dataset.extent.extent
    assert 10.51 < lon_min < lon_max < 10.64
    assert 57.70 < lat_min < lat_max < 57.76
    frame = pyogrio.read_dataframe(path, max_features=5)
    for _, feature in frame.iterrows():
        point = MeasurementPoint.objects.get(dataset=dataset, pid=str(feature["CODE"]))
        assert point.velocity == pytest.approx(feature["VEL_V"], abs=1e-5)
        assert point.geom.x == pytest.approx(feature.geometry.x, abs=1e-12)


@pytest.mark.django_db
def test_ingest_export_ingest_gives_identical_values(tmp_path) -> None:
    call_command("ingest", str(L2B_ASC), "--dataset", "first")
    exported = tmp_path / "EGMS_L2b_117_0227_IW2_VV_2020_2024_1.csv"
    call_command("export", "first", "--format", "csv", "-o", str(exported), stdout=io.StringIO())

    call_command("ingest", str(exported), "--dataset", "second")

    fields = [
        "pid",
        "geom",
        "height",
        "velocity",
        "velocity_std",
        "acceleration",
        "temporal_coherence",
        "rmse",
        "los_east",
        "los_up",
        "series__displacements",
    ]
    first = sorted(MeasurementPoint.objects.filter(dataset__slug="first").values_list(*fields))
    second = sorted(MeasurementPoint.objects.filter(dataset__slug="second").values_list(*fields))
    assert len(first) == len(second) == 11_759
    for one, two in zip(first, second, strict=True):
        assert one[0] == two[0]
        assert (one[1].x, one[1].y) == pytest.approx((two[1].x, two[1].y), abs=1e-9)
        assert one[2:-1] == two[2:-1]
        assert bytes(one[-1]) == bytes(two[-1])
    second_dataset = Dataset.objects.get(slug="second")
    assert second_dataset.acquisition_dates == Dataset.objects.get(slug="first").acquisition_dates
    assert (second_dataset.level, second_dataset.pass_direction) == ("l2b", "ascending")


@pytest.mark.django_db
@pytest.mark.parametrize("path", [L2B_DESC, L3_UP], ids=["l2b", "l3"])
def test_an_export_writes_back_the_source_file_text(path: Path, tmp_path) -> None:
    """Every static column, extras included (height_ellipse, line, pixel, gnss_velocity...),
    comes back as the source text; displacements too, except that -0.0 is written 0.0."""
    call_command("ingest", str(path), "--dataset", "source")
    exported = tmp_path / "out.csv"
    call_command("export", "source", "--format", "csv", "-o", str(exported), stdout=io.StringIO())

    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        source = list(csv.reader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))
    written = list(csv.reader(exported.open()))
    assert written[0] == source[0]
    assert len(written) == len(source)
    unsigned_zero = [
        [field.replace("-0.0", "0.0") if field == "-0.0" else field for field in row]
        for row in source[1:]
    ]
    for one, two in zip(sorted(written[1:]), sorted(unsigned_zero), strict=True):
        differences = [
            (source[0][i], a, b) for i, (a, b) in enumerate(zip(one, two, strict=True)) if a != b
        ]
        assert differences == []
