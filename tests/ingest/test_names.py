"""Dataset names: `ingest` names a dataset after its EGMS files (level, pass, track, burst or
tile, years), --name wins, --area groups; never the slug."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from groundmotion.egms import Generation
from groundmotion.ingest.describe import readable_name
from groundmotion.models import Dataset
from tests.egms_files import demo_track, egms_columns, egms_csv_text, write_zip
from tests.real_data import REAL_DATA

EGMS = REAL_DATA / "egms-ortho-product"
needs_real = pytest.mark.skipif(not EGMS.is_dir(), reason=f"no real EGMS files in {EGMS}")
pytestmark = pytest.mark.django_db


def ingest(*arguments: str) -> tuple[Dataset, str]:
    out = io.StringIO()
    call_command("ingest", *arguments, stdout=out)
    slug = arguments[arguments.index("--dataset") + 1]
    return Dataset.objects.get(slug=slug), out.getvalue()


def test_the_brief_examples_read_as_a_person_would_say_them() -> None:
    burst = readable_name(
        ["EGMS_L2b_088_0296_IW2_VV_2019_2023_1.zip"],
        level="l2b",
        pass_direction="ascending",
        component="los",
        relative_orbit=88,
    )
    assert burst == "L2b ascending track 88, burst 0296 IW2, 2019\u20132023"
    tile = readable_name(
        ["EGMS_L3_E32N14_100km_U_2019_2023_1.zip"],
        level="l3",
        pass_direction="",
        component="up-down",
    )
    assert tile == "L3 up-down E32N14, 2019\u20132023"
    merged = readable_name(
        [f"EGMS_L2a_088_028{i}_IW{s}_VV_2018_2022_1.zip" for i in (2, 3) for s in (1, 2)],
        level="l2a",
        pass_direction="descending",
        component="los",
        area="Ardennes",
    )
    assert merged == "Ardennes L2a descending track 88, 4 bursts 0282\u20130283, 2018\u20132022"


@needs_real
@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("EGMS_L2b_117_0227_IW2_VV_2020_2024_1.zip", "L2b ascending track 117, burst 0227 IW2"),
        ("EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip", "L2b descending track 22, burst 0845 IW2"),
        ("EGMS_L3_E45N17_100km_U_2020_2024_1.zip", "L3 up-down E45N17"),
        ("EGMS_L3_E45N17_100km_E_2020_2024_1.zip", "L3 east-west E45N17"),
    ],
)
def test_a_real_egms_file_gives_its_readable_name(file: str, expected: str) -> None:
    dataset, out = ingest(str(EGMS / file), "--dataset", "real")
    assert dataset.name == f"{expected}, 2020\u20132024"
    assert dataset.name != dataset.slug and f"name: {dataset.name}" in out


@needs_real
def test_name_and_area_options_win_and_a_reload_keeps_them() -> None:
    path = str(EGMS / "EGMS_L2b_117_0227_IW2_VV_2020_2024_1.zip")
    dataset, _ = ingest(path, "--dataset", "ustica", "--name", "Ustica west", "--area", "Ustica")
    assert (dataset.name, dataset.area) == ("Ustica west", "Ustica")
    dataset, _ = ingest(path, "--dataset", "ustica", "--replace")
    assert (dataset.name, dataset.area) == ("Ustica west", "Ustica")
    dataset, _ = ingest(path, "--dataset", "ustica-2", "--area", "Ustica")
    assert dataset.name == "Ustica L2b ascending track 117, burst 0227 IW2, 2020\u20132024"


def test_a_file_without_an_egms_name_is_named_by_role_and_stem(tmp_path: Path) -> None:
    dates, chunk = demo_track(50)
    text = egms_csv_text(egms_columns(chunk, "l2a", Generation.G2018), chunk["series"], dates)
    path = tmp_path / "tre_export.csv"
    path.write_text(text)
    dataset, _ = ingest(str(path), "--dataset", "tre", "--level", "l2a")
    first, last = dates[0].year, dates[-1].year
    years = f"{first}\u2013{last}" if first != last else str(first)
    assert dataset.name == f"L2a ascending, {years} (tre_export)"


def test_a_synthetic_burst_zip_is_named_after_its_file(tmp_path: Path) -> None:
    dates, chunk = demo_track(40, track=1)
    path = write_zip(
        tmp_path / "EGMS_L2a_081_0301_IW3_VV_2021_2022_1.zip",
        egms_csv_text(egms_columns(chunk, "l2a", Generation.G2018), chunk["series"], dates),
        "<BURST/>",
    )
    dataset, _ = ingest(str(path), "--dataset", "demo-desc")
    assert dataset.name == "L2a descending track 81, burst 0301 IW3, 2021\u20132022"
