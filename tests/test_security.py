"""Production settings pass `check --deploy`; error pages and counts leak nothing."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

from groundmotion.models import Status, Visibility
from tests.factories import make_dataset


def test_check_deploy_is_clean_with_production_settings() -> None:
    environment = {**os.environ, "DEBUG": "false", "ALLOWED_HOSTS": "groundmotion.example.org",
                   "SECRET_KEY": "k3#" + "x9Lq2!vB7zR" * 6}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key() -> None:
    environment = {**os.environ, "DEBUG": "false", "SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_missing_and_hidden_datasets_look_the_same(client, registered, partners) -> None:
    make_dataset("hidden-track", visibility=Visibility.RESTRICTED, groups=[partners],
                 lon=[0.01], lat=[0.01])  # fmt: skip
    make_dataset("draft-track", status=Status.DRAFT, lon=[0.01], lat=[0.01])
    client.force_login(registered)
    answers = [client.get(f"/api/downloads/{slug}/", {"bbox": "0,0,0.05,0.05"})
               for slug in ("hidden-track", "draft-track", "never-existed")]  # fmt: skip
    assert {answer.status_code for answer in answers} == {404}
    assert len({answer.content for answer in answers}) == 1


def test_the_account_page_counts_only_visible_datasets(client, registered, partners) -> None:
    make_dataset("secret-a", visibility=Visibility.RESTRICTED, groups=[partners])
    make_dataset("secret-b", status=Status.DRAFT)
    client.force_login(registered)
    html = client.get("/accounts/profile/").content.decode()
    assert "secret" not in html and "No dataset is visible to you" in html
