"""processing/fanout.py in one process (Celery eager): chunks give the single-process result
bit for bit, progress sums the chunks, a failing chunk fails its job with a clear message.
The same paths on two real workers, with one killed, are in tests/faults/test_fan_out.py."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from fixtures import demo_region
from groundmotion.models import Dataset, MeasurementPoint, PointSeries, ProcessingJob
from groundmotion.storage.tables import POINT_FLOAT_COLUMNS
from processing.models import FanOut, JobChunk
from processing.tasks import run_job

pytestmark = pytest.mark.django_db(transaction=True)
State = ProcessingJob.State
ASCENDING = demo_region.TRACKS[0].slug
AREA = "POLYGON((-1.2 43.6,-0.9 43.6,-0.9 43.8,-1.2 43.8,-1.2 43.6))"


def make_demo() -> Dataset:
    call_command("make_demo", points=3000, seed=5, years=2.0, stdout=io.StringIO())
    return Dataset.objects.get(slug=ASCENDING)


def fan_out(settings, *, threshold: int = 1, chunk: int = 700) -> None:
    settings.GROUNDMOTION = {
        **settings.GROUNDMOTION,
        "JOB_FANOUT_POINTS": threshold,
        "JOB_CHUNK_POINTS": chunk,
    }


def snapshot(slug: str) -> dict[str, np.ndarray]:
    """Every fitted column (float32 as stored) and every series' bytes, in pid order."""
    points = MeasurementPoint.objects.filter(dataset__slug=slug).order_by("pid")
    out = {
        name: np.array(points.values_list(name, flat=True), dtype=np.float64)
        for name in POINT_FLOAT_COLUMNS
    }
    series = PointSeries.objects.filter(point__dataset__slug=slug).order_by("point__pid")
    out["series"] = np.array([bytes(row) for row in series.values_list("displacements", flat=True)])
    return out


def assert_identical(left: dict, right: dict) -> None:
    for name in left:
        np.testing.assert_array_equal(left[name], right[name], err_msg=name)  # exact, NaN = NaN


def forget_fit(slug: str) -> None:
    """Blank the fitted velocities, so a run that writes nothing cannot pass."""
    MeasurementPoint.objects.filter(dataset__slug=slug).update(velocity=None, velocity_std=None)


def run(kind: str, parameters: dict) -> ProcessingJob:
    job = ProcessingJob.objects.create(kind=kind, parameters=parameters)
    run_job(job.pk)
    job.refresh_from_db()
    return job


def test_a_fanned_out_fit_equals_the_single_process_fit_bit_for_bit(settings) -> None:
    make_demo()
    forget_fit(ASCENDING)
    single = run("fit", {"dataset": ASCENDING})
    assert single.state == State.SUCCEEDED and not FanOut.objects.filter(job=single).exists()
    expected = snapshot(ASCENDING)
    assert np.isfinite(expected["velocity"]).sum() > 2500

    fan_out(settings)
    forget_fit(ASCENDING)
    job = run("fit", {"dataset": ASCENDING})
    assert job.state == State.SUCCEEDED, job.message
    assert job.progress == 1.0 and job.output.slug == ASCENDING
    chunks = JobChunk.objects.filter(fanout__job=job)
    assert chunks.count() == 5  # 3000 points in chunks of about 700
    assert sum(chunks.values_list("points", flat=True)) == 3000
    assert set(chunks.values_list("state", flat=True)) == {"done"}
    assert not chunks.exclude(output=None).exists()  # outputs dropped once written
    assert_identical(snapshot(ASCENDING), expected)


def test_a_fanned_out_reference_equals_the_single_process_one(settings) -> None:
    make_demo()
    single = run("reference", {"dataset": ASCENDING, "area": AREA})
    assert single.state == State.SUCCEEDED, single.message
    expected = snapshot(ASCENDING)

    make_demo()  # the same points again (same seed)
    before = snapshot(ASCENDING)
    fan_out(settings)
    job = run("reference", {"dataset": ASCENDING, "area": AREA})
    assert job.state == State.SUCCEEDED, job.message
    assert JobChunk.objects.filter(fanout__job=job).count() == 5
    after = snapshot(ASCENDING)
    assert not np.array_equal(after["series"], before["series"])  # it did re-reference
    assert_identical(after, expected)
    assert Dataset.objects.get(slug=ASCENDING).reference_area is not None


DESCENDING = demo_region.TRACKS[1].slug


def test_a_fanned_out_calibration_equals_the_single_process_one(settings) -> None:
    make_demo()
    single = run("calibrate", {"dataset": ASCENDING, "gnss": "demo-gnss", "output": "l2b-one"})
    assert single.state == State.SUCCEEDED, single.message
    fan_out(settings)
    job = run("calibrate", {"dataset": ASCENDING, "gnss": "demo-gnss", "output": "l2b-many"})
    assert job.state == State.SUCCEEDED, job.message
    assert job.output.slug == "l2b-many" and job.progress == 1.0
    assert "draft" in job.message and "l2b-many" in job.message
    assert JobChunk.objects.filter(fanout__job=job).count() == 5
    expected, result = snapshot("l2b-one"), snapshot("l2b-many")
    assert len(result["velocity"]) == 3000 and np.isfinite(result["velocity"]).all()
    assert not np.array_equal(result["velocity"], snapshot(ASCENDING)["velocity"])  # corrected
    assert_identical(result, expected)
    one, many = (Dataset.objects.get(slug=slug) for slug in ("l2b-one", "l2b-many"))
    assert many.provenance["calibration"] == one.provenance["calibration"]
    assert many.level == one.level == "l2b" and many.status == "draft"


def test_a_fanned_out_decomposition_equals_the_single_process_one(settings) -> None:
    make_demo()
    parameters = {"ascending": ASCENDING, "descending": DESCENDING, "grid": 500}
    single = run("decompose", parameters | {"up": "one-up", "east": "one-east"})
    assert single.state == State.SUCCEEDED, single.message
    fan_out(settings)
    job = run("decompose", parameters | {"up": "many-up", "east": "many-east"})
    assert job.state == State.SUCCEEDED, job.message
    chunks = JobChunk.objects.filter(fanout__job=job)
    assert chunks.count() >= 5 and sum(chunks.values_list("points", flat=True)) == 6000
    assert job.output.slug == "many-up" and job.progress == 1.0
    for component in ("up", "east"):
        expected, result = snapshot(f"one-{component}"), snapshot(f"many-{component}")
        assert len(result["velocity"]) > 100
        assert_identical(result, expected)


def test_a_fanned_out_job_refuses_a_taken_output_slug_before_any_chunk(settings) -> None:
    make_demo()
    fan_out(settings)
    parameters = {"ascending": ASCENDING, "descending": DESCENDING, "grid": 500}
    job = run("decompose", parameters | {"up": ASCENDING, "east": "new-east"})
    assert job.state == State.FAILED and f"a dataset '{ASCENDING}' already exists" in job.message
    assert not FanOut.objects.exists() and not Dataset.objects.filter(slug="new-east").exists()


def test_a_small_job_stays_in_one_process(settings) -> None:
    make_demo()
    fan_out(settings, threshold=3001)
    job = run("fit", {"dataset": ASCENDING})
    assert job.state == State.SUCCEEDED and not FanOut.objects.exists()


def test_a_chunk_that_raises_fails_its_job_naming_the_chunk(settings, monkeypatch) -> None:
    from processing import chunked

    make_demo()
    before = snapshot(ASCENDING)
    fan_out(settings)
    calls = []

    def broken(job, plan, chunk):
        calls.append(chunk.number)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return compute(job, plan, chunk)

    compute = chunked.FIT.compute
    monkeypatch.setattr(
        chunked, "FIT", chunked.FIT.__class__(chunked.FIT.plan, broken, chunked.FIT.finish)
    )
    job = run("fit", {"dataset": ASCENDING})
    assert job.state == State.FAILED
    assert "chunk 3 of 5 (ids " in job.message and "RuntimeError: disk full" in job.message
    assert_identical(snapshot(ASCENDING), before)  # nothing half written
    assert not JobChunk.objects.exclude(output=None).exists()


def test_bad_parameters_fail_before_any_chunk(settings) -> None:
    fan_out(settings)
    job = run("fit", {"dataset": "no-such"})
    assert job.state == State.FAILED and "no dataset 'no-such'" in job.message
    assert not FanOut.objects.exists()


def export_job(user, dataset: Dataset) -> ProcessingJob:
    west, south, east, north = dataset.extent.extent
    bbox = f"{west - 0.01},{south - 0.01},{east + 0.01},{north + 0.01}"
    parameters = {"dataset": dataset.slug, "format": "csv", "bbox": bbox, "polygon": ""}
    return ProcessingJob.objects.create(kind="export", user=user, parameters=parameters)


def exported(job: ProcessingJob) -> bytes:
    from downloads import jobs

    jobs.run_export(job.pk)
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED, job.message
    return jobs.result_path(job).read_bytes()


def test_a_fanned_out_csv_export_is_the_same_file(settings, member, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "DOWNLOAD_MAX_AREA_KM2": 100_000}
    dataset = make_demo()
    single = exported(export_job(member, dataset))
    fan_out(settings)
    job = export_job(member, dataset)
    assert exported(job) == single
    assert single.count(b"\n") == 3001
    assert JobChunk.objects.filter(fanout__job=job).count() == 5
    assert sorted(path.name for path in (tmp_path / "exports" / str(job.pk)).iterdir()) == [
        f"{dataset.slug}.csv"  # the part files are gone
    ]
    assert job.parameters["points_written"] == 3000 and job.progress == 1.0


def test_the_reaper_sends_silent_and_waiting_chunks_again(settings) -> None:
    """As a lost worker leaves a job: one chunk running with a stale heartbeat, the others'
    messages gone, the job silent. The reaper runs them again (eagerly here) and does not
    fail the job."""
    import datetime

    from django.utils import timezone

    from processing import chunked, fanout, runs

    make_demo()
    forget_fit(ASCENDING)
    fan_out(settings)
    job = ProcessingJob.objects.create(kind="fit", parameters={"dataset": ASCENDING})
    assert runs.claim(job.pk)
    _, chunks = fanout.create_chunks(job, chunked.FIT.plan(job))
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    JobChunk.objects.filter(pk=chunks[0].pk).update(
        state="running", attempts=1, worker="w9@gone", heartbeat_at=long_ago
    )
    JobChunk.objects.exclude(pk=chunks[0].pk).update(sent_at=long_ago)
    ProcessingJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    assert fanout.reap() == []
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED, job.message
    first = JobChunk.objects.get(pk=chunks[0].pk)
    assert first.attempts == 2 and first.lost.startswith("no heartbeat from w9@gone since")
    assert np.isfinite(snapshot(ASCENDING)["velocity"]).sum() > 2500
