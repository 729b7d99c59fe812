from __future__ import annotations

import pytest

from groundmotion.models import Status, Visibility
from tests.factories import make_dataset


@pytest.fixture
def datasets(partners):
    make_dataset("open-track")
    make_dataset("draft-track", status=Status.DRAFT)
    make_dataset("partner-track", visibility=Visibility.RESTRICTED, groups=[partners])
    make_dataset("members-track", visibility=Visibility.REGISTERED)


def listed(client) -> set[str]:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    return {
        slug
        for slug in ("open-track", "draft-track", "partner-track", "members-track")
        if f'data-slug="{slug}"' in html
    }


@pytest.mark.django_db
def test_it_explains_the_service_and_the_sign_convention(client) -> None:
    html = client.get("/").content.decode()
    assert "Persistent Scatterer" in html
    assert "towards" in html and "mm/yr" in html


@pytest.mark.django_db
def test_it_lists_only_public_published_datasets_to_anonymous(client, datasets) -> None:
    assert listed(client) == {"open-track"}


@pytest.mark.django_db
def test_it_adds_registered_datasets_for_signed_in_users(client, datasets, registered) -> None:
    client.force_login(registered)
    assert listed(client) == {"open-track", "members-track"}


@pytest.mark.django_db
def test_it_adds_restricted_datasets_for_group_members(client, datasets, member) -> None:
    client.force_login(member)
    assert listed(client) == {"open-track", "members-track", "partner-track"}


@pytest.mark.django_db
def test_it_never_lists_drafts_even_to_curators(client, datasets, curator) -> None:
    client.force_login(curator)
    assert "draft-track" not in listed(client)
