"""ingest_gnss_series: NGL .tenv3 and CSV station position series, stored in mm relative to
each station's first epoch, loaded whole or not at all."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from groundmotion.ingest.errors import IngestError
from groundmotion.ingest.gnss_series import load_series, parse_series
from groundmotion.models import GNSSNetwork, GNSSSeries, GNSSStation
from tests.real_data import REAL_DATA

MXTM = REAL_DATA / "leeds-gnss-insar-ts" / "MXTM.NA.tenv3"
needs_real = pytest.mark.skipif(not MXTM.exists(), reason="real data folder not present")
ROW = "A,2022-01-01,1,2,3,1,1,1"
HEADER = "station,date,east_mm,north_mm,up_mm,sigma_east_mm,sigma_north_mm,sigma_up_mm"


def plain_tenv3(path: Path) -> list[list[str]]:
    """The data lines of a .tenv3 file, split on whitespace: the reading to compare with."""
    return [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]


@needs_real
def test_the_real_tenv3_file_reads_as_its_text_says() -> None:
    rows = plain_tenv3(MXTM)
    [series] = parse_series(MXTM)
    assert series.code == "MXTM" and len(series.dates) == len(rows) == 548
    # MJD 57919 is 2017-06-15, which the file also spells 17JUN15.
    assert series.dates[0] == datetime.date(2017, 6, 15)
    assert series.dates[-1] == datetime.date(2019, 5, 4)

    def metres(row: list[str], integer: int, fraction: int) -> float:
        return float(row[integer]) + float(row[fraction])

    for name, (integer, fraction) in zip("enu", ((7, 8), (9, 10), (11, 12)), strict=True):
        first = metres(rows[0], integer, fraction)
        expected = [(metres(row, integer, fraction) - first) * 1000 for row in rows]
        values = series.enu["enu".index(name)]
        assert values[0] == 0.0
        assert values[-1] == pytest.approx(expected[-1], abs=1e-6)
        np.testing.assert_allclose(values, expected, atol=1e-6)
    # The last line: up 0.376703 m at the start, -0.150315 m at the end (same integer part).
    assert series.enu[2, -1] == pytest.approx((-0.150315 - 0.376703) * 1000, abs=1e-6)
    assert series.sigmas[:, 0].tolist() == pytest.approx([1.256, 1.039, 4.593])
    assert series.position == pytest.approx((-98.9785059216, 19.4844247673, 2226.37670))


@needs_real
@pytest.mark.django_db
def test_a_new_station_is_created_at_the_files_position_with_a_fitted_velocity() -> None:
    call_command("ingest_gnss_series", str(MXTM), "--network", "ngl", "--create")
    station = GNSSStation.objects.get(network__slug="ngl", code="MXTM")
    assert (station.geom.x, station.geom.y) == pytest.approx((-98.9785059216, 19.4844247673))
    rows = plain_tenv3(MXTM)
    days = np.array([int(float(row[3])) - int(float(rows[0][3])) for row in rows])
    up = np.array([float(row[11]) + float(row[12]) for row in rows]) * 1000
    assert station.velocity_up == pytest.approx(np.polyfit(days / 365.25, up, 1)[0], abs=1e-6)
    assert station.velocity_up < -200  # Mexico City sinks fast
    assert station.velocity_up_std is None
    stored = station.series
    assert len(stored.dates) == 548 and stored.source == "MXTM.NA.tenv3"
    assert stored.up[0] == 0.0 and stored.sigma_up[0] == pytest.approx(4.593)


@needs_real
@pytest.mark.django_db
def test_a_reload_needs_replace_and_an_unknown_network_needs_create() -> None:
    with pytest.raises(CommandError, match="no such GNSS network"):
        call_command("ingest_gnss_series", str(MXTM), "--network", "ngl")
    call_command("ingest_gnss_series", str(MXTM), "--network", "ngl", "--create")
    with pytest.raises(CommandError, match="already has a series: give --replace"):
        call_command("ingest_gnss_series", str(MXTM), "--network", "ngl", "--create")
    call_command("ingest_gnss_series", str(MXTM), "--network", "ngl", "--replace")
    assert GNSSSeries.objects.count() == 1 and GNSSStation.objects.count() == 1


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_csv_is_sorted_by_date_and_made_relative_to_the_first_day(tmp_path) -> None:
    path = write(
        tmp_path,
        "two.csv",
        "# a comment line\n"
        f"{HEADER}\n"
        "AAA1,2022-01-03,12.0,5.0,-3.0,1,1,3\n"
        "AAA1,2022-01-01,10.0,4.0,-1.0,1,1,3\n"
        "BBB2,2022-01-01,0.5,0.5,0.5,2,2,5\n"
        "AAA1,2022-01-02,11.0,4.5,-2.0,1,1,3\n"
        "BBB2,2022-01-02,1.5,0.0,2.5,2,2,5\n",
    )
    first, second = parse_series(path)
    assert first.code == "AAA1" and first.first_line == 3
    assert first.dates == [datetime.date(2022, 1, d) for d in (1, 2, 3)]
    np.testing.assert_array_equal(first.enu, [[0, 1, 2], [0, 0.5, 1], [0, -1, -2]])
    np.testing.assert_array_equal(second.enu, [[0, 1], [0, -0.5], [0, 2]])
    np.testing.assert_array_equal(second.sigmas[:, 0], [2, 2, 5])
    assert second.position is None


def test_semicolons_and_no_sigmas_are_accepted(tmp_path) -> None:
    path = write(
        tmp_path, "s.csv", "site;date;east;north;up\nX;2022-01-01;1;2;3\nX;2022-01-07;2;2;1\n"
    )
    [series] = parse_series(path)
    assert series.sigmas is None
    np.testing.assert_array_equal(series.enu[:, 1], [1, 0, -2])


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        (
            f"{HEADER}\n{ROW}\nA,2022-01-02,1,x,3,1,1,1\n",
            3,
            "north_mm",
            "number",
        ),
        (f"{HEADER}\n{ROW}\nA,2022-13-02,1,2,3,1,1,1\n", 3, "date", "date"),
        (f"{HEADER}\n{ROW}\nA,2022-01-01,1,2,3,1,1,1\n", 3, None, "twice"),
        (f"{HEADER}\n{ROW}\nA,2022-01-02,1,2\n", 3, None, "columns"),
        (f"{HEADER}\nA,2022-01-01,1,2,nan,1,1,1\nA,2022-01-02,1,2,3,1,1,1\n", 2, "up_mm", "finite"),
        ("station,date,east_mm,up_mm\nA,2022-01-01,1,2\n", 1, None, "north_mm"),
        (f"{HEADER}\n{ROW}\n", 2, None, "single date"),
        (f"{HEADER}\n", 2, None, "no data"),
    ],
)
def test_a_bad_csv_names_the_line_and_column(tmp_path, text, line, column, words) -> None:
    with pytest.raises(IngestError, match=words) as caught:
        parse_series(write(tmp_path, "bad.csv", text))
    assert (caught.value.line, caught.value.column) == (line, column)
    assert f"line {line}" in str(caught.value)


@needs_real
def test_a_bad_tenv3_line_is_named(tmp_path) -> None:
    lines = MXTM.read_text().splitlines()
    fields = lines[3].split()
    bad_number = lines.copy()
    bad_number[3] = " ".join([*fields[:12], "0.37x", *fields[13:]])
    with pytest.raises(IngestError, match="not a number") as caught:
        parse_series(write(tmp_path, "a.tenv3", "\n".join(bad_number)))
    assert (caught.value.line, caught.value.column) == (4, "up(m)")
    short = lines.copy()
    short[10] = " ".join(lines[10].split()[:20])
    with pytest.raises(IngestError, match="expected 23 columns, found 20") as caught:
        parse_series(write(tmp_path, "b.tenv3", "\n".join(short)))
    assert caught.value.line == 11
    wrong_day = lines.copy()
    wrong_day[5] = lines[5].replace("17JUN19", "17JUN20")
    with pytest.raises(IngestError, match="not the day of MJD") as caught:
        parse_series(write(tmp_path, "c.tenv3", "\n".join(wrong_day)))
    assert (caught.value.line, caught.value.column) == (6, "YYMMMDD")


@pytest.mark.django_db
def test_a_load_lands_whole_or_not_at_all(tmp_path) -> None:
    network = GNSSNetwork.objects.create(slug="net", name="Net")
    GNSSStation.objects.create(
        network=network, code="KNWN", geom="SRID=4326;POINT(1 2)",
        velocity_east=0, velocity_north=0, velocity_up=0,
    )  # fmt: skip
    path = write(
        tmp_path,
        "mixed.csv",
        f"{HEADER}\nKNWN,2022-01-01,1,2,3,1,1,1\nKNWN,2022-01-02,1,2,3,1,1,1\n"
        "NEW1,2022-01-01,1,2,3,1,1,1\nNEW1,2022-01-02,1,2,3,1,1,1\n",
    )
    with pytest.raises(IngestError, match="NEW1 is not in network net: give --create") as caught:
        load_series(path, "net")
    assert caught.value.line == 4
    assert not GNSSSeries.objects.exists()  # KNWN, stored first, was rolled back
    with pytest.raises(IngestError, match="no latitude and longitude"):
        load_series(path, "net", create=True)
    assert not GNSSSeries.objects.exists()
    located = path.read_text().replace(HEADER, HEADER + ",latitude,longitude")
    located = located.replace(",1,1,1\n", ",1,1,1,45.5,370.25\n")
    _, loaded = load_series(write(tmp_path, "located.csv", located), "net", create=True)
    assert [(item.code, item.created) for item in loaded] == [("KNWN", False), ("NEW1", True)]
    new = GNSSStation.objects.get(code="NEW1")
    assert (new.geom.x, new.geom.y) == pytest.approx((10.25, 45.5))  # 370.25 wrapped
    assert GNSSStation.objects.get(code="KNWN").velocity_up == 0  # not refitted
