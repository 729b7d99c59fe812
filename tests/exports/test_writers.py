"""The export writers, read back with pandas, pyogrio and rasterio and compared with the DB."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
from django.contrib.auth.models import AnonymousUser
from django.core.management import CommandError, call_command
from pyproj import Transformer

from groundmotion import access
from groundmotion.exports.area import parse_area, within
from groundmotion.exports.writers import ExportError, Format, csv_chunks, write_export
from groundmotion.models import Dataset, Level, MeasurementPoint
from tests.factories import DATES, make_dataset

TO_LAEA = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)
RANDOM = np.random.default_rng(7)
COUNT = 250
LON = RANDOM.uniform(-1.1, -1.0, COUNT)
LAT = RANDOM.uniform(43.7, 43.8, COUNT)
VELOCITY = RANDOM.normal(0, 5, COUNT)
SERIES = RANDOM.normal(0, 10, (COUNT, len(DATES))).astype(np.float32)
SERIES[3, 5] = np.nan


def database_table(dataset: Dataset) -> pd.DataFrame:
    """The reference: the stored points and series, read through the ORM (no export code)."""
    rows = MeasurementPoint.objects.filter(dataset=dataset).order_by("id")
    frame = pd.DataFrame.from_records(
        [
            (p.pid, p.geom.x, p.geom.y, p.velocity, p.temporal_coherence, p.series.values())
            for p in rows.select_related("series")
        ],
        columns=["pid", "longitude", "latitude", "velocity", "coherence", "series"],
    )
    return frame


def all_points(dataset: Dataset):
    return access.aggregatable_points(AnonymousUser(), dataset)


@pytest.fixture
def track(db) -> Dataset:
    dataset = make_dataset(
        "export-track", lon=LON, lat=LAT, velocity=VELOCITY, series=SERIES, level=Level.L2B
    )
    return dataset


def test_csv_has_the_egms_l2b_columns_and_the_stored_values(track, tmp_path) -> None:
    result = write_export(Format.CSV, all_points(track), track, tmp_path / "out.csv")
    table = pd.read_csv(tmp_path / "out.csv", dtype={"pid": str})
    reference = database_table(track)
    assert result.point_count == COUNT == len(table)
    assert list(table.columns[:3]) == ["pid", "mp_type", "latitude"]
    assert "cluster_label" not in table.columns
    assert list(table.columns[-len(DATES) :]) == [f"{d:%Y%m%d}" for d in DATES]
    assert list(table["pid"]) == list(reference["pid"])
    np.testing.assert_allclose(table["mean_velocity"], reference["velocity"], atol=6e-4)
    np.testing.assert_allclose(table["longitude"], reference["longitude"], atol=1e-7)
    series = table[[f"{d:%Y%m%d}" for d in DATES]].to_numpy()
    np.testing.assert_allclose(series, np.stack(reference["series"]), atol=0.051)
    assert np.isnan(series[3, 5])


def test_csv_easting_and_northing_are_epsg_3035(track, tmp_path) -> None:
    write_export(Format.CSV, all_points(track), track, tmp_path / "out.csv")
    table = pd.read_csv(tmp_path / "out.csv")
    easting, northing = TO_LAEA.transform(table["longitude"], table["latitude"])
    np.testing.assert_allclose(table["easting"], easting, atol=0.02)
    np.testing.assert_allclose(table["northing"], northing, atol=0.02)


def test_l2a_csv_keeps_the_cluster_label_column(db, tmp_path) -> None:
    dataset = make_dataset("l2a-track", lon=LON[:5], lat=LAT[:5])
    write_export(Format.CSV, all_points(dataset), dataset, tmp_path / "out.csv")
    table = pd.read_csv(tmp_path / "out.csv")
    assert list(table.columns[:2]) == ["pid", "cluster_label"]
    assert table["cluster_label"].isna().all()


def test_streaming_in_small_chunks_gives_the_same_rows(track, monkeypatch) -> None:
    whole = b"".join(csv_chunks(all_points(track), track))
    monkeypatch.setattr("groundmotion.exports.stream.CHUNK_ROWS", 7)
    from groundmotion.exports import stream

    chunks = list(stream.stream_points(all_points(track), track, chunk_rows=7))
    assert sum(len(chunk) for chunk in chunks) == COUNT
    assert max(len(chunk) for chunk in chunks) < COUNT  # really chunked
    assert len(pd.read_csv(io.BytesIO(whole))) == COUNT


def test_a_polygon_selects_only_the_points_inside(track, tmp_path) -> None:
    polygon = "POLYGON((-1.1 43.7, -1.05 43.7, -1.05 43.75, -1.1 43.75, -1.1 43.7))"
    points = within(all_points(track), parse_area(None, polygon))
    result = write_export(Format.CSV, points, track, tmp_path / "out.csv")
    inside = (LON < -1.05) & (LAT < 43.75)
    assert result.point_count == inside.sum() > 0
    table = pd.read_csv(tmp_path / "out.csv")
    assert (table["longitude"] < -1.05).all() and (table["latitude"] < 43.75).all()


def test_geopackage_holds_points_attributes_and_series(track, tmp_path) -> None:
    path = tmp_path / "out.gpkg"
    result = write_export(Format.GPKG, all_points(track), track, path)
    frame = pyogrio.read_dataframe(path, layer="export-track")
    reference = database_table(track)
    assert result.point_count == len(frame) == COUNT
    np.testing.assert_allclose(frame.geometry.x, reference["longitude"], atol=1e-9)
    np.testing.assert_allclose(frame["mean_velocity"], reference["velocity"], atol=6e-4)
    series = frame[[f"d{d:%Y%m%d}" for d in DATES]].to_numpy(dtype=float)
    np.testing.assert_allclose(series, np.stack(reference["series"]), atol=0.051)
    assert frame.crs.to_epsg() == 4326


def test_geotiff_holds_the_l3_velocity_on_its_grid(db, tmp_path) -> None:
    # Cell centres on a 100 m EPSG:3035 grid, back to WGS84 for storage.
    columns, rows = np.meshgrid(np.arange(35000, 35006), np.arange(23000, 23004))
    easting = (columns.ravel() * 100 + 50).astype(float)
    northing = (rows.ravel() * 100 + 50).astype(float)
    lon, lat = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True).transform(
        easting, northing
    )
    velocity = np.arange(len(lon), dtype=float) - 10
    keep = np.arange(len(lon)) != 7  # one empty cell
    dataset = make_dataset(
        "l3-up",
        lon=lon[keep],
        lat=lat[keep],
        velocity=velocity[keep],
        level=Level.L3,
        pass_direction="",
    )
    Dataset.objects.filter(pk=dataset.pk).update(grid_size_m=100)
    dataset.refresh_from_db()
    path = tmp_path / "out.tif"
    result = write_export(Format.GEOTIFF, all_points(dataset), dataset, path)
    assert result.point_count == keep.sum()
    with rasterio.open(path) as raster:
        assert raster.crs.to_epsg() == 3035 and raster.res == (100.0, 100.0)
        band = raster.read(1)
        assert band.shape == (4, 6)
        sampled = np.array(
            [value[0] for value in raster.sample(zip(easting, northing, strict=True))]
        )
    np.testing.assert_allclose(sampled[keep], velocity[keep], atol=1e-5)
    assert np.isnan(sampled[7])


def test_geotiff_is_refused_for_los_datasets_and_leaves_no_file(track, tmp_path) -> None:
    with pytest.raises(ExportError, match="L3"):
        write_export(Format.GEOTIFF, all_points(track), track, tmp_path / "out.tif")
    assert list(tmp_path.iterdir()) == []


def test_the_command_writes_a_bbox_and_rejects_a_bad_one(track, tmp_path) -> None:
    path = tmp_path / "cmd.csv"
    call_command("export", "export-track", "--bbox=-1.1,43.7,-1.05,43.75", "-o", str(path))
    inside = (LON < -1.05) & (LAT < 43.75)
    assert len(pd.read_csv(path)) == inside.sum()
    with pytest.raises(CommandError, match="four numbers"):
        call_command("export", "export-track", "--bbox=1,2,3", "-o", str(path))
    with pytest.raises(CommandError, match="No dataset"):
        call_command("export", "nothing", "-o", str(path))


def test_an_empty_selection_writes_a_header_only_csv(track, tmp_path) -> None:
    points = within(all_points(track), parse_area("10,10,11,11", None))
    result = write_export(Format.CSV, points, track, tmp_path / "empty.csv")
    table = pd.read_csv(tmp_path / "empty.csv")
    assert result.point_count == 0 and len(table) == 0 and "mean_velocity" in table.columns


def test_wide_float32_series_and_int16_series_export_together(db, tmp_path) -> None:
    series = RANDOM.normal(0, 10, (6, len(DATES))).astype(np.float32)
    series[2] = np.linspace(0, -5000.5, len(DATES))  # beyond int16 at 0.1 mm: stored float32
    series[4, :3] = np.nan
    dataset = make_dataset("mixed", lon=LON[:6], lat=LAT[:6], series=series)
    write_export(Format.CSV, all_points(dataset), dataset, tmp_path / "out.csv")
    exported = pd.read_csv(tmp_path / "out.csv")[[f"{d:%Y%m%d}" for d in DATES]].to_numpy()
    np.testing.assert_allclose(exported, series, atol=0.051)
    assert np.isnan(exported[4, :3]).all() and not np.isnan(exported[4, 3:]).any()


def test_stored_extras_fill_their_columns_and_unknown_ones_follow(db, tmp_path) -> None:
    from groundmotion.storage import copy_in

    dataset = make_dataset("extras", lon=LON[:4], lat=LAT[:4])
    ids = list(
        MeasurementPoint.objects.filter(dataset=dataset).order_by("id").values_list("id", flat=True)
    )
    names = ["cluster_label", "line", "pixel", "height_wgs84", "custom_flag"]
    values = np.array(
        [
            [3, 1043, 11607, -1.0, 7],
            [4, 1044, 11608, 12.25, 8],
            [5, 1045, 11609, np.nan, 9],
            [6, 1046, 11610, 0.5, 10],
        ],
        dtype=float,
    )
    copy_in.copy_extras(np.array(ids), values)
    Dataset.objects.filter(pk=dataset.pk).update(extra_columns=names)
    dataset.refresh_from_db()

    write_export(Format.CSV, all_points(dataset), dataset, tmp_path / "out.csv")

    table = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(table.columns[:2]) == ["pid", "cluster_label"]
    assert table.columns[len(table.columns) - len(DATES) - 1] == "custom_flag"
    assert list(table["cluster_label"]) == ["3", "4", "5", "6"]
    assert list(table["line"]) == ["1043", "1044", "1045", "1046"]
    assert list(table["height_wgs84"]) == ["-1.0", "12.25", "", "0.5"]
    assert list(table["custom_flag"]) == ["7", "8", "9", "10"]
