"""manage.py dataset: state changes by conditional UPDATE, each bumping the version."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from groundmotion.models import Dataset, MeasurementPoint, PointSeries, Status
from tests.factories import make_dataset


def run(*args: str) -> dict:
    out = io.StringIO()
    call_command("dataset", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_without_options_it_prints_the_summary() -> None:
    make_dataset("quiet", lon=[0.1, 0.2], lat=[45, 45.1])
    summary = run("quiet")
    assert (summary["slug"], summary["point_count"]) == ("quiet", 2)
    assert Dataset.objects.get(slug="quiet").version == summary["version"]


@pytest.mark.django_db
def test_publish_and_unpublish_bump_the_version() -> None:
    dataset = make_dataset("flip", status=Status.DRAFT)
    published = run("flip", "--publish")
    assert published["status"] == "published"
    assert published["version"] == dataset.version + 1
    drafted = run("flip", "--unpublish")
    assert (drafted["status"], drafted["version"]) == ("draft", dataset.version + 2)


@pytest.mark.django_db
def test_publishing_twice_is_refused() -> None:
    make_dataset("twice", status=Status.PUBLISHED)
    with pytest.raises(CommandError, match="status is not 'draft'"):
        call_command("dataset", "twice", "--publish")


@pytest.mark.django_db
def test_visibility_and_groups(partners, others) -> None:
    dataset = make_dataset("closed")
    summary = run(
        "closed", "--visibility", "restricted", "--group", "partners", "--group", "others"
    )
    assert summary["visibility"] == "restricted"
    assert summary["allowed_groups"] == ["others", "partners"]
    assert summary["version"] == dataset.version + 2


@pytest.mark.django_db
def test_unknown_group_changes_nothing(partners) -> None:
    dataset = make_dataset("open")
    with pytest.raises(CommandError, match="no such group"):
        call_command("dataset", "open", "--visibility", "restricted", "--group", "nobody")
    dataset.refresh_from_db()
    assert (dataset.visibility, dataset.allowed_groups.count()) == ("public", 0)


@pytest.mark.django_db
def test_delete_removes_points_and_series() -> None:
    make_dataset("gone", lon=[0.1, 0.2, 0.3], lat=[45, 45.1, 45.2])
    keep = make_dataset("kept", lon=[0.1], lat=[45])
    call_command("dataset", "gone", "--delete", stdout=io.StringIO())
    assert not Dataset.objects.filter(slug="gone").exists()
    assert MeasurementPoint.objects.count() == 1
    assert PointSeries.objects.get().point.dataset == keep


@pytest.mark.django_db
def test_unknown_dataset() -> None:
    with pytest.raises(CommandError, match="no dataset 'nope'"):
        call_command("dataset", "nope")
