"""The jobs API and the Celery task (eager): state, progress, clean failure, access."""

from __future__ import annotations

import numpy as np
import pytest

from groundmotion.models import Dataset, ProcessingJob
from tests.factories import client_for, make_dataset


@pytest.fixture
def source(db) -> Dataset:
    rng = np.random.default_rng(2)
    return make_dataset(
        "jobs-source",
        lon=rng.uniform(-1.1, -1.0, 50),
        lat=rng.uniform(43.7, 43.8, 50),
        velocity=rng.normal(0, 3, 50),
    )


def test_it_runs_a_fit_job_for_a_curator(curator, source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(curator).post(
            "/api/jobs/",
            {"kind": "fit", "parameters": {"dataset": source.slug}},
            content_type="application/json",
        )
    assert response.status_code == 201
    job = ProcessingJob.objects.get(pk=response.json()["id"])
    assert job.state == ProcessingJob.State.SUCCEEDED
    assert job.progress == 1.0 and job.output == source
    detail = client_for(curator).get(f"/api/jobs/{job.pk}/").json()
    assert detail["state"] == "succeeded" and detail["output"] == source.slug
    listed = client_for(curator).get("/api/jobs/").json()["jobs"]
    assert [entry["id"] for entry in listed] == [job.pk]


def test_a_failed_job_says_why_and_leaves_no_half_dataset(
    curator, source, django_capture_on_commit_callbacks
) -> None:
    parameters = {"dataset": source.slug, "gnss": "missing-network", "output": "half-l2b"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(curator).post(
            "/api/jobs/",
            {"kind": "calibrate", "parameters": parameters},
            content_type="application/json",
        )
    job = ProcessingJob.objects.get(pk=response.json()["id"])
    assert job.state == ProcessingJob.State.FAILED
    assert "missing-network" in job.message
    assert not Dataset.objects.filter(slug="half-l2b").exists()


def test_it_rejects_jobs_with_missing_parameters(curator, db) -> None:
    response = client_for(curator).post(
        "/api/jobs/",
        {"kind": "decompose", "parameters": {"ascending": "a"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "descending" in response.json()["error"]
    assert not ProcessingJob.objects.exists()


@pytest.mark.parametrize("who", ["anonymous", "registered"])
def test_it_refuses_jobs_to_non_curators(request, who: str, source) -> None:
    user = None if who == "anonymous" else request.getfixturevalue(who)
    client = client_for(user)
    posted = client.post(
        "/api/jobs/",
        {"kind": "fit", "parameters": {"dataset": source.slug}},
        content_type="application/json",
    )
    assert posted.status_code == 403
    assert client.get("/api/jobs/").status_code == 403
    assert not ProcessingJob.objects.exists()


def test_a_job_already_claimed_is_not_run_twice(source) -> None:
    from processing.tasks import run_job

    job = ProcessingJob.objects.create(
        kind="fit", parameters={"dataset": source.slug}, state=ProcessingJob.State.RUNNING
    )
    assert run_job(job.pk) == "skipped"
    job.refresh_from_db()
    assert job.state == ProcessingJob.State.RUNNING
