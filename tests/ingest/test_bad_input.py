"""Bad input: a clear error naming file, line and column; non-zero exit; nothing loaded."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
from pathlib import Path

import geopandas
import pytest
from django.core.management import CommandError, call_command
from shapely.geometry import Polygon

from groundmotion import egms
from groundmotion.ingest import csvtable
from groundmotion.models import Dataset, MeasurementPoint, PointSeries
from tests.egms_files import demo_track, egms_columns, egms_csv_text, write_zip

NAME = "EGMS_L2b_132_0282_IW2_VV_2021_2022_1"


def good_lines(points: int = 30) -> list[str]:
    dates, chunk = demo_track(points)
    columns = egms_columns(chunk, "l2b", egms.Generation.G2018)
    return egms_csv_text(columns, chunk["series"], dates).splitlines()


def set_field(line: str, column: int, value: str) -> str:
    fields = line.split(",")
    fields[column] = value
    return ",".join(fields)


def header_index(lines: list[str], name: str) -> int:
    return lines[0].split(",").index(name)


def ingest_error(tmp_path: Path, text: str | bytes, suffix: str = ".csv") -> str:
    path = tmp_path / (NAME + suffix)
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    with pytest.raises(CommandError) as raised:
        call_command("ingest", str(path), "--dataset", "bad")
    assert not Dataset.objects.filter(slug="bad").exists()
    assert MeasurementPoint.objects.count() == 0
    assert PointSeries.objects.count() == 0
    message = str(raised.value)
    assert str(path) in message
    return message


@pytest.mark.django_db
def test_missing_required_column(tmp_path) -> None:
    lines = good_lines()
    lines[0] = lines[0].replace("latitude", "lat_typo")
    message = ingest_error(tmp_path, "\n".join(lines))
    assert "line 1" in message
    assert "missing required column 'latitude'" in message


@pytest.mark.django_db
def test_non_numeric_value(tmp_path) -> None:
    lines = good_lines()
    lines[17] = set_field(lines[17], header_index(lines, "mean_velocity"), "fast")
    message = ingest_error(tmp_path, "\n".join(lines))
    assert "line 18, column 'mean_velocity': not a number: 'fast'" in message


@pytest.mark.django_db
def test_non_numeric_value_in_a_date_column(tmp_path) -> None:
    lines = good_lines()
    date_column = lines[0].split(",")[-3]
    lines[9] = set_field(lines[9], -3, "1.2.3")
    message = ingest_error(tmp_path, "\n".join(lines))
    assert f"line 10, column '{date_column}': not a number: '1.2.3'" in message


@pytest.mark.django_db
def test_ragged_row(tmp_path) -> None:
    lines = good_lines()
    lines[5] += ",4.2"
    message = ingest_error(tmp_path, "\n".join(lines))
    assert "line 6: ragged row" in message


@pytest.mark.django_db
def test_duplicate_pid_in_one_block(tmp_path) -> None:
    lines = good_lines()
    lines[20] = set_field(lines[20], 0, lines[4].split(",")[0])
    message = ingest_error(tmp_path, "\n".join(lines))
    assert "line 21, column 'pid': duplicate pid" in message
    assert "first seen at line 5" in message
    assert f"duplicate pid '{lines[4].split(',')[0]}' (" in message  # the pid as written


@pytest.mark.django_db
def test_duplicate_pid_in_later_block(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(csvtable, "BLOCK_BYTES", 2000)  # several blocks
    lines = good_lines()
    lines[28] = set_field(lines[28], 0, lines[2].split(",")[0])
    message = ingest_error(tmp_path, "\n".join(lines))
    assert "line 29, column 'pid': duplicate pid" in message


@pytest.mark.django_db
@pytest.mark.parametrize(("column", "value"), [("latitude", "91.5"), ("longitude", "-181")])
def test_location_out_of_range(tmp_path, column, value) -> None:
    lines = good_lines()
    lines[3] = set_field(lines[3], header_index(lines, column), value)
    message = ingest_error(tmp_path, "\n".join(lines))
    assert f"line 4, column '{column}': {column} {float(value)} out of range" in message


@pytest.mark.django_db
def test_missing_latitude_value(tmp_path) -> None:
    lines = good_lines()
    lines[3] = set_field(lines[3], header_index(lines, "latitude"), "")
    message = ingest_error(tmp_path, "\n".join(lines))
    assert "line 4, column 'latitude': latitude missing" in message


@pytest.mark.django_db
@pytest.mark.parametrize("bad_date", ["20211332", "2021013", "D2021x103"])
def test_malformed_date_header(tmp_path, bad_date) -> None:
    lines = good_lines()
    header = lines[0].split(",")
    header[-2] = bad_date
    lines[0] = ",".join(header)
    message = ingest_error(tmp_path, "\n".join(lines))
    assert f"line 1, column '{bad_date}': malformed date header" in message


@pytest.mark.django_db
def test_dates_out_of_order(tmp_path) -> None:
    lines = good_lines()
    header = lines[0].split(",")
    header[-1], header[-2] = header[-2], header[-1]
    lines[0] = ",".join(header)
    message = ingest_error(tmp_path, "\n".join(lines))
    assert "dates must increase" in message


@pytest.mark.django_db
def test_empty_file(tmp_path) -> None:
    assert "line 1: empty file" in ingest_error(tmp_path, "")


@pytest.mark.django_db
def test_header_with_no_rows(tmp_path) -> None:
    message = ingest_error(tmp_path, good_lines()[0] + "\n")
    assert "line 2: the header has no data rows" in message


@pytest.mark.django_db
def test_truncated_file(tmp_path) -> None:
    text = "\n".join(good_lines()) + "\n"
    message = ingest_error(tmp_path, text[: len(text) - 400])
    assert "line 31: ragged row" in message
    assert "truncated file?" in message


@pytest.mark.django_db
def test_truncated_zip(tmp_path) -> None:
    whole = write_zip(tmp_path / "whole.zip", "\n".join(good_lines()) + "\n", "<BURST/>")
    message = ingest_error(tmp_path, whole.read_bytes()[:-300], suffix=".zip")
    assert "truncated or corrupt ZIP file" in message


@pytest.mark.django_db
def test_corrupt_zip_member(tmp_path) -> None:
    whole = bytearray(
        write_zip(tmp_path / "w.zip", "\n".join(good_lines()) + "\n", "<BURST/>").read_bytes()
    )
    whole[400:420] = b"\x00" * 20  # inside the deflated CSV
    message = ingest_error(tmp_path, bytes(whole), suffix=".zip")
    assert "corrupt" in message


@pytest.mark.django_db
def test_a_failure_in_the_second_file_loads_nothing_from_the_first(tmp_path) -> None:
    lines = good_lines()
    good = tmp_path / f"{NAME}.csv"
    good.write_text("\n".join(lines))
    lines[12] = set_field(lines[12], header_index(lines, "los_up"), "up")
    bad = tmp_path / "EGMS_L2b_132_0283_IW2_VV_2021_2022_1.csv"
    bad.write_text("\n".join(lines))
    with pytest.raises(CommandError, match=r"0283.*line 13, column 'los_up'"):
        call_command("ingest", str(good), str(bad), "--dataset", "two")
    assert not Dataset.objects.filter(slug="two").exists()
    assert MeasurementPoint.objects.count() == 0


@pytest.mark.django_db
def test_existing_dataset_needs_replace(tmp_path) -> None:
    path = tmp_path / f"{NAME}.csv"
    path.write_text("\n".join(good_lines()))
    call_command("ingest", str(path), "--dataset", "once")
    with pytest.raises(CommandError, match="give --replace"):
        call_command("ingest", str(path), "--dataset", "once")
    assert Dataset.objects.get(slug="once").point_count == 30


def test_the_command_exits_non_zero_without_a_traceback(tmp_path) -> None:
    lines = good_lines()
    lines[7] = set_field(lines[7], 0 + 3, "north")
    path = tmp_path / f"{NAME}.csv"
    path.write_text("\n".join(lines))
    result = subprocess.run(
        [sys.executable, "manage.py", "ingest", str(path), "--dataset", "never-created"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "line 8" in result.stderr
    assert "Nothing was loaded" in result.stderr


@pytest.mark.django_db
def test_missing_mean_velocity(tmp_path) -> None:
    lines = good_lines()
    lines[0] = lines[0].replace("mean_velocity,", "velocity_typo,")
    message = ingest_error(tmp_path, "\n".join(lines))
    assert "line 1: missing required column 'mean_velocity'" in message


@pytest.mark.django_db
def test_a_plain_name_without_level_asks_for_it(tmp_path) -> None:
    path = tmp_path / "points.csv"
    path.write_text("\n".join(good_lines()))
    with pytest.raises(CommandError, match="cannot tell the product level: give --level"):
        call_command("ingest", str(path), "--dataset", "nameless")
    assert not Dataset.objects.filter(slug="nameless").exists()


def test_a_malformed_mapping_is_refused(tmp_path) -> None:
    with pytest.raises(CommandError, match="SOURCE=TARGET"):
        call_command("ingest", str(tmp_path / "x.csv"), "--dataset", "x", "--map", "CODE")


@pytest.mark.django_db
def test_non_numeric_unknown_columns_are_reported_and_numeric_ones_kept(tmp_path) -> None:
    lines = good_lines(5)
    lines = [
        line + (",remark,score" if i == 0 else f",note {i},{i * 1.5}")
        for i, line in enumerate(lines)
    ]
    # Unknown columns go before the dates: move them there.
    header = lines[0].split(",")
    first_date = next(i for i, name in enumerate(header) if name.isdigit())
    moved = []
    for line in lines:
        fields = line.split(",")
        moved.append(",".join(fields[:first_date] + fields[-2:] + fields[first_date:-2]))
    path = tmp_path / f"{NAME}.csv"
    path.write_text("\n".join(moved))
    out = io.StringIO()
    call_command("ingest", str(path), "--dataset", "extra", stdout=out)
    assert "ignored non-numeric columns: remark" in out.getvalue()
    dataset = Dataset.objects.get(slug="extra")
    assert dataset.extra_columns[-1] == "score"
    assert dataset.provenance["ignored_columns"] == ["remark"]


@pytest.mark.django_db
def test_empty_and_nan_optional_values_are_stored_as_null(tmp_path) -> None:
    lines = good_lines()
    coherence = header_index(lines, "temporal_coherence")
    lines[2] = set_field(lines[2], coherence, "")
    lines[3] = set_field(lines[3], coherence, "NaN")
    pids = [lines[i].split(",")[0] for i in (2, 3, 4)]
    path = tmp_path / f"{NAME}.csv"
    path.write_text("\n".join(lines))
    call_command("ingest", str(path), "--dataset", "nulls", stdout=io.StringIO())
    stored = dict(
        MeasurementPoint.objects.filter(pid__in=pids).values_list("pid", "temporal_coherence")
    )
    assert stored[pids[0]] is None
    assert stored[pids[1]] is None
    assert stored[pids[2]] == pytest.approx(float(lines[4].split(",")[coherence]), abs=1e-6)


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:GPKG. bad application_id:RuntimeWarning")
def test_vector_files_that_are_not_point_layers_or_not_readable(tmp_path) -> None:
    polygons = tmp_path / "areas.gpkg"
    frame = geopandas.GeoDataFrame(
        {"CODE": ["a"], "VEL": [1.0]}, geometry=[Polygon([(0, 0), (1, 0), (1, 1)])], crs=4326
    )
    frame.to_file(polygons)
    with pytest.raises(CommandError, match=r"areas.gpkg: not a point layer"):
        call_command(
            "ingest", str(polygons), "--dataset", "v", "--level", "l3", "--component", "up-down"
        )
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(CommandError, match=r"broken.gpkg: unreadable vector file"):
        call_command(
            "ingest", str(broken), "--dataset", "v", "--level", "l3", "--component", "up-down"
        )
    assert not Dataset.objects.filter(slug="v").exists()


@pytest.mark.django_db
def test_gzipped_csv_loads_and_a_truncated_one_is_refused(tmp_path) -> None:
    packed = gzip.compress(("\n".join(good_lines()) + "\n").encode())
    message = ingest_error(tmp_path, packed[: len(packed) // 2], suffix=".csv.gz")
    assert "truncated or corrupt compressed file" in message
    whole = tmp_path / f"{NAME}.csv.gz"
    whole.write_bytes(packed)
    call_command("ingest", str(whole), "--dataset", "zipped", stdout=io.StringIO())
    assert Dataset.objects.get(slug="zipped").point_count == 30
