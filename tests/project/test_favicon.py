"""Every page has an icon: no browser request for /favicon.ico ends in a 404."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client


@pytest.mark.django_db
def test_pages_link_an_icon_that_exists_and_favicon_ico_redirects_to_it() -> None:
    client = Client()
    page = client.get("/").content.decode()
    link = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert link, "the home page links no icon"
    icon = link.group(1)
    assert finders.find(icon.removeprefix("/static/")), f"{icon} is not a static file"
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == icon
