"""Ingest of make_demo output written as EGMS files: values come back as generated."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command

from groundmotion import egms
from groundmotion.models import Dataset, MeasurementPoint, PointExtra, PointSeries
from groundmotion.storage import series_codec
from tests.egms_files import demo_track, egms_columns, egms_csv_text, write_zip

XML = "<BURST><product_level>L2a</product_level><track>132</track></BURST>"


def stored(dataset: Dataset) -> dict[str, tuple]:
    rows = MeasurementPoint.objects.filter(dataset=dataset).values_list(
        "pid", "geom", "velocity", "los_east", "mp_type", "series__displacements"
    )
    return {row[0]: row[1:] for row in rows}


@pytest.mark.django_db
@pytest.mark.parametrize("generation", list(egms.Generation))
def test_it_loads_an_l2a_burst_zip_with_values_as_generated(tmp_path, generation) -> None:
    dates, chunk = demo_track(300)
    columns = egms_columns(chunk, "l2a", generation)
    path = write_zip(
        tmp_path / "EGMS_L2a_132_0282_IW2_VV_2021_2022_1.zip",
        egms_csv_text(columns, chunk["series"], dates),
        XML,
    )

    call_command("ingest", str(path), "--dataset", "demo-l2a")

    dataset = Dataset.objects.get(slug="demo-l2a")
    assert (dataset.level, dataset.pass_direction, dataset.relative_orbit) == (
        "l2a",
        "ascending",
        132,
    )
    assert dataset.acquisition_dates == dates
    assert dataset.point_count == 300
    assert dataset.metadata["headers"][path.name]["BURST"]["track"] == "132"
    assert "cluster_label" in dataset.extra_columns
    points = stored(dataset)
    for i in (0, 123, 299):
        geom, velocity, los_east, mp_type, series = points[chunk["pid"][i]]
        assert geom.x == pytest.approx(chunk["lon"][i], abs=1e-6)
        assert geom.y == pytest.approx(chunk["lat"][i], abs=1e-6)
        assert velocity == pytest.approx(chunk["attributes"]["velocity"][i], abs=1e-5)
        assert los_east == pytest.approx(chunk["attributes"]["los_east"][i], abs=1e-6)
        assert mp_type == pytest.approx(chunk["attributes"]["mp_type"][i], abs=1e-3)
        # Written with 3 decimals, stored at 0.1 mm (series_codec): within half a step + 0.0005.
        values = series_codec.decode(series)
        np.testing.assert_allclose(values, chunk["series"][i], atol=0.0506)


@pytest.mark.django_db
def test_it_keeps_extra_columns_for_exports(tmp_path) -> None:
    dates, chunk = demo_track(50)
    columns = egms_columns(chunk, "l2b", egms.Generation.G2020)
    path = tmp_path / "EGMS_L2b_132_0282_IW2_VV_2021_2022_1.csv"
    path.write_text(egms_csv_text(columns, chunk["series"], dates))

    call_command("ingest", str(path), "--dataset", "demo-l2b")

    dataset = Dataset.objects.get(slug="demo-l2b")
    assert dataset.extra_columns == [
        "easting",
        "northing",
        "height_wgs84",
        "line",
        "pixel",
        "gnss_velocity",
    ]
    extra = PointExtra.objects.get(point__dataset=dataset, point__pid=chunk["pid"][7])
    values = extra.as_dict(dataset.extra_columns)
    assert values["easting"] == columns["easting"][7]
    assert values["height_wgs84"] == pytest.approx(columns["height_ellipse"][7], abs=1e-6)


@pytest.mark.django_db
def test_it_merges_overlapping_bursts_skipping_repeated_pids(tmp_path) -> None:
    dates, chunk = demo_track(400)
    columns = egms_columns(chunk, "l2a", egms.Generation.G2018)
    first = {name: values[:250] for name, values in columns.items()}
    second = {name: values[200:] for name, values in columns.items()}
    paths = []
    for index, (part, rows) in enumerate([(first, slice(0, 250)), (second, slice(200, 400))]):
        path = tmp_path / f"EGMS_L2a_132_028{index}_IW2_VV_2021_2022_1.csv"
        path.write_text(egms_csv_text(part, chunk["series"][rows], dates))
        paths.append(str(path))

    call_command("ingest", *paths, "--dataset", "demo-merged")

    dataset = Dataset.objects.get(slug="demo-merged")
    assert dataset.point_count == 400
    assert dataset.provenance["skipped_duplicates"] == 50
    assert PointSeries.objects.filter(point__dataset=dataset).count() == 400


@pytest.mark.django_db
def test_it_reads_semicolons_and_guesses_descending_from_the_los_vector(tmp_path) -> None:
    dates, chunk = demo_track(80, track=1)
    columns = egms_columns(chunk, "l2b", egms.Generation.G2018)
    path = tmp_path / "merged_download.csv"
    path.write_text(egms_csv_text(columns, chunk["series"], dates, delimiter=";"))

    call_command("ingest", str(path), "--dataset", "demo-desc", "--level", "l2b")

    dataset = Dataset.objects.get(slug="demo-desc")
    assert (dataset.pass_direction, dataset.point_count) == ("descending", 80)
    velocity = MeasurementPoint.objects.get(dataset=dataset, pid=chunk["pid"][3]).velocity
    assert velocity == pytest.approx(chunk["attributes"]["velocity"][3], abs=1e-5)


@pytest.mark.django_db
def test_it_reads_tre_style_csv_with_a_column_mapping(tmp_path) -> None:
    dates, chunk = demo_track(60)
    attributes = chunk["attributes"]
    columns = {
        "CODE": chunk["pid"],
        "LAT": chunk["lat"],
        "LON": chunk["lon"],
        "VEL": attributes["velocity"],
        "V_STDEV": attributes["velocity_std"],
        "COHERENCE": attributes["temporal_coherence"],
        "H": attributes["height"],
    }
    path = tmp_path / "tre.csv"
    path.write_text(egms_csv_text(columns, chunk["series"], dates, date_prefix="D"))

    call_command(
        "ingest",
        str(path),
        "--dataset",
        "tre",
        "--level",
        "l2a",
        "--pass",
        "ascending",
        "--map",
        "H=height",
    )

    dataset = Dataset.objects.get(slug="tre")
    assert dataset.acquisition_dates == dates
    point = MeasurementPoint.objects.get(dataset=dataset, pid=chunk["pid"][11])
    assert point.velocity_std == pytest.approx(attributes["velocity_std"][11], abs=1e-5)
    assert point.temporal_coherence == pytest.approx(attributes["temporal_coherence"][11], 1e-5)
    assert point.height == pytest.approx(attributes["height"][11], abs=1e-4)


@pytest.mark.django_db
def test_replace_reloads_keeping_settings_and_bumping_the_version(tmp_path) -> None:
    dates, chunk = demo_track(40)
    columns = egms_columns(chunk, "l2a", egms.Generation.G2018)
    path = tmp_path / "EGMS_L2a_132_0282_IW2_VV_2021_2022_1.csv"
    path.write_text(egms_csv_text(columns, chunk["series"], dates))
    call_command("ingest", str(path), "--dataset", "again")
    Dataset.objects.filter(slug="again").update(visibility="registered")
    version = Dataset.objects.get(slug="again").version
    smaller = {name: values[:30] for name, values in columns.items()}
    path.write_text(egms_csv_text(smaller, chunk["series"][:30], dates))

    call_command("ingest", str(path), "--dataset", "again", "--replace")

    dataset = Dataset.objects.get(slug="again")
    assert (dataset.point_count, dataset.visibility) == (30, "registered")
    assert dataset.version > version
    assert PointSeries.objects.filter(point__dataset=dataset).count() == 30


@pytest.mark.django_db
def test_non_ascii_pids_are_kept(tmp_path) -> None:
    dates, chunk = demo_track(20)
    chunk["pid"] = np.char.add("Ø", chunk["pid"])
    columns = egms_columns(chunk, "l2a", egms.Generation.G2018)
    path = tmp_path / "EGMS_L2a_132_0282_IW2_VV_2021_2022_1.csv"
    path.write_text(egms_csv_text(columns, chunk["series"], dates), encoding="utf-8")

    call_command("ingest", str(path), "--dataset", "unicode")

    assert MeasurementPoint.objects.filter(dataset__slug="unicode", pid=chunk["pid"][4]).exists()
