"""Production settings pass `check --deploy` and DEBUG is off unless asked for; error pages
and counts leak nothing."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from groundmotion.models import Status, Visibility
from tests.factories import make_dataset


def production_environment(**variables: str) -> dict[str, str]:
    """This environment as a deployment that never heard of DEBUG would have it."""
    environment = {name: value for name, value in os.environ.items() if name != "DEBUG"}
    return {**environment, **variables}


def run_django(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    """A fresh interpreter: settings are read once per process, and pytest must not be in it."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings() -> None:
    """The README's production settings: SECRET_KEY and ALLOWED_HOSTS, and DEBUG left unset."""
    environment = production_environment(
        SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="groundmotion.example.org"
    )
    result = run_django(environment, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_when_the_variable_is_unset() -> None:
    environment = production_environment(
        SECRET_KEY=secrets.token_urlsafe(50), DJANGO_SETTINGS_MODULE="config.settings"
    )
    environment.pop("ALLOWED_HOSTS", None)
    show = "from django.conf import settings; print(settings.DEBUG, settings.ALLOWED_HOSTS)"
    result = run_django(environment, "-c", show)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['127.0.0.1', 'localhost']"


def test_debug_is_on_under_pytest_and_in_the_processes_it_starts() -> None:
    """The tests run in development mode without anyone exporting DEBUG (tests/conftest.py)."""
    assert os.environ["DEBUG"] == "true"
    show = "from django.conf import settings; print(settings.DEBUG)"
    result = run_django({**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}, "-c", show)
    assert result.stdout.strip() == "True", result.stderr


@pytest.mark.parametrize("debug", [None, "false"])
def test_production_settings_refuse_to_start_without_a_secret_key(debug: str | None) -> None:
    environment = production_environment(SECRET_KEY="")
    if debug is not None:
        environment["DEBUG"] = debug
    result = run_django(environment, "manage.py", "check")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_missing_and_hidden_datasets_look_the_same(client, registered, partners) -> None:
    make_dataset(
        "hidden-track", visibility=Visibility.RESTRICTED, groups=[partners], lon=[0.01], lat=[0.01]
    )
    make_dataset("draft-track", status=Status.DRAFT, lon=[0.01], lat=[0.01])
    client.force_login(registered)
    answers = [
        client.get(f"/api/downloads/{slug}/", {"bbox": "0,0,0.05,0.05"})
        for slug in ("hidden-track", "draft-track", "never-existed")
    ]
    assert {answer.status_code for answer in answers} == {404}
    assert len({answer.content for answer in answers}) == 1


def test_the_account_page_counts_only_visible_datasets(client, registered, partners) -> None:
    make_dataset("secret-a", visibility=Visibility.RESTRICTED, groups=[partners])
    make_dataset("secret-b", status=Status.DRAFT)
    client.force_login(registered)
    html = client.get("/accounts/profile/").content.decode()
    assert "secret" not in html and "No dataset is visible to you" in html
