"""Derived datasets are named from their role (area, level, track or component, years), keep
the source's area, start as drafts, and the curator is told so and how to publish them; their
progress moves in steps even when the inputs fit one default chunk."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from fixtures import demo_region
from groundmotion.models import Dataset, ProcessingJob, Status
from processing import jobs, runs
from processing.tasks import run_job

pytestmark = pytest.mark.django_db(transaction=True)
ASCENDING, DESCENDING = (track.slug for track in demo_region.TRACKS)
POINTS = 10_000  # per track: one default chunk (100,000), two progress steps of 5,000


@pytest.fixture
def demo() -> list:
    call_command("make_demo", points=POINTS, seed=3, years=2.0, stdout=io.StringIO())
    return Dataset.objects.get(slug=ASCENDING).acquisition_dates


@pytest.fixture
def recorded(monkeypatch) -> list[tuple[float, str]]:
    reports: list[tuple[float, str]] = []
    write = runs.Progress.__call__

    def record(self, fraction: float, message: str) -> None:
        reports.append((fraction, message))
        write(self, fraction, message)

    monkeypatch.setattr(runs.Progress, "__call__", record)
    return reports


def years(dates: list) -> str:
    return f"{dates[0].year}\u2013{dates[-1].year}"


def run(*arguments: str) -> str:
    out = io.StringIO()
    call_command(*arguments, stdout=out)
    return out.getvalue()


def test_make_demo_names_its_tracks_with_the_area(demo) -> None:
    dataset = Dataset.objects.get(slug=ASCENDING)
    assert dataset.area == "Dax"
    assert dataset.name == f"Dax L2a ascending track 132, {years(demo)} (synthetic)"


def test_calibrate_and_decompose_name_drafts_by_role_and_say_how_to_publish(demo) -> None:
    out = run("calibrate", ASCENDING, "--gnss", "demo-gnss", "--output", "dax-asc-l2b")
    run("calibrate", DESCENDING, "--gnss", "demo-gnss", "--output", "dax-desc-l2b")
    l2b = Dataset.objects.get(slug="dax-asc-l2b")
    assert l2b.name == f"Dax L2b ascending track 132, {years(demo)}"
    assert (l2b.area, l2b.status) == ("Dax", Status.DRAFT)
    assert (
        f"created as draft '{l2b.name}' (slug dax-asc-l2b): publish with "
        "`manage.py dataset dax-asc-l2b --publish` or in the admin"
    ) in out
    out = run(
        "decompose", "dax-asc-l2b", "dax-desc-l2b", "--grid", "500", "--up", "u", "--east", "e"
    )
    up, east = Dataset.objects.get(slug="u"), Dataset.objects.get(slug="e")
    assert up.name == f"Dax L3 up-down {years(up.acquisition_dates)}" and up.area == "Dax"
    assert east.name == f"Dax L3 east-west {years(east.acquisition_dates)}"
    assert f"draft '{up.name}' (slug u) and draft '{east.name}' (slug e)" in out
    # Published, a dataset is no longer announced as a draft; renamed, it keeps the new name.
    run("dataset", "u", "--publish", "--name", "Dax vertical motion 2021", "--area", "Landes")
    up.refresh_from_db()
    assert (up.name, up.area, up.status) == ("Dax vertical motion 2021", "Landes", "published")
    message = jobs.result_message("decompose", {"up": "u", "east": "e"})
    assert message.startswith("done: created as draft") and "(slug e)" in message
    assert "(slug u)" not in message


def test_a_calibrate_job_of_one_default_chunk_reports_steps(demo, recorded) -> None:
    job = ProcessingJob.objects.create(
        kind="calibrate",
        parameters={"dataset": ASCENDING, "gnss": "demo-gnss", "output": "job-l2b"},
    )
    assert run_job(job.pk) == ProcessingJob.State.SUCCEEDED
    messages = [message for _, message in recorded]
    assert messages[0].startswith("GNSS surfaces fitted (RMS misfit, mm/yr: ")
    assert messages[1:] == [
        f"calibrated 5,000 of {POINTS:,} points of {ASCENDING}",
        f"calibrated {POINTS:,} of {POINTS:,} points of {ASCENDING}",
    ]
    fractions = [fraction for fraction, _ in recorded]
    assert fractions == sorted(fractions) and 0 < fractions[1] < 1
    notice = jobs.result_message("calibrate", job.parameters)
    assert "draft 'Dax L2b ascending track 132," in notice and "(slug job-l2b)" in notice


def test_a_decompose_job_of_one_default_band_reports_steps(demo, recorded) -> None:
    for track, slug in ((ASCENDING, "a-l2b"), (DESCENDING, "d-l2b")):
        run("calibrate", track, "--gnss", "demo-gnss", "--output", slug)
    parameters = {"ascending": "a-l2b", "descending": "d-l2b", "up": "u", "east": "e", "grid": 500}
    job = ProcessingJob.objects.create(kind="decompose", parameters=parameters)
    assert run_job(job.pk) == ProcessingJob.State.SUCCEEDED
    bands = [message for _, message in recorded if message.startswith("solved band")]
    assert len(bands) >= 3, bands  # 20,000 points in bands of about 5,000
    assert 0 < recorded[0][0] < recorded[-1][0] < 1
