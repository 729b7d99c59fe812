"""`manage.py group`: the README's restricted-dataset example runs as written."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command

from groundmotion.models import Dataset

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_group_is_created_members_added_and_the_dataset_command_accepts_it() -> None:
    User.objects.create_user("alice")
    User.objects.create_user("bob")
    Dataset.objects.create(slug="ustica-117", name="Ustica L2b track 117")
    assert "partners (created): members alice, bob; datasets none" in run(
        "group", "partners", "--add", "alice", "--add", "bob"
    )
    run("dataset", "ustica-117", "--publish", "--visibility", "restricted", "--group", "partners")
    assert "members bob; datasets ustica-117" in run("group", "partners", "--remove", "alice")
    assert list(Group.objects.get(name="partners").user_set.values_list("username", flat=True)) == [
        "bob"
    ]


def test_an_unknown_user_changes_nothing() -> None:
    with pytest.raises(CommandError, match="no such user\\(s\\): carol"):
        run("group", "partners", "--add", "carol")
    assert not Group.objects.filter(name="partners").exists()
