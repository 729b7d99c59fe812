"""Test-only settings, the standard cast of users, and a Redis for the worker tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User

from groundmotion import access
from groundmotion.storage import compiled
from tests.factories import make_user
from tests.services import redis_server

# Servers, workers and commands the tests start in child processes run in development mode,
# as this process does (config/settings.py turns DEBUG on by default under pytest only).
os.environ.setdefault("DEBUG", "true")


@pytest.fixture(autouse=True)
def test_settings(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Slugs recur from test to test: no kept tile lookup may outlive its test.
    compiled.forget_all()


@pytest.fixture
def pass_time(monkeypatch) -> Callable[[float], None]:
    """Move access's clock forward, as if that many seconds had passed."""

    def move(seconds: float) -> None:
        now = access.monotonic()
        monkeypatch.setattr(access, "monotonic", lambda: now + seconds)

    return move


@pytest.fixture
def partners(db) -> Group:
    return Group.objects.create(name="partners")


@pytest.fixture
def others(db) -> Group:
    return Group.objects.create(name="others")


@pytest.fixture
def anonymous() -> AnonymousUser:
    return AnonymousUser()


@pytest.fixture
def registered(db) -> User:
    return make_user("registered")


@pytest.fixture
def member(partners) -> User:
    return make_user("member", groups=[partners])


@pytest.fixture
def outsider(others) -> User:
    return make_user("outsider", groups=[others])


@pytest.fixture
def curator(db) -> User:
    return make_user("curator", curator=True)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A Redis of its own on a free port, for the tests that start real workers."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
