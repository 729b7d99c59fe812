"""The access matrix's rows for the analysis endpoints (tests/access/matrix.py ANALYSIS_ROWS),
over every user class and case, by session and by API token, on the same cast as
test_matrix.py."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tokens import create_token
from tests.access.matrix import ANALYSIS_ROWS, CASES, USERS, World
from tests.access.test_matrix import world  # noqa: F401  (the module's cast)


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("endpoint", list(ANALYSIS_ROWS))
def test_analysis_access_matrix(client, world: World, endpoint: str, user: str, case: str) -> None:  # noqa: F811
    if world.users[user] is not None:
        client.force_login(world.users[user])
    ANALYSIS_ROWS[endpoint](client, world, user, case)


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("user", [user for user in USERS if user != "anonymous"])
@pytest.mark.parametrize("endpoint", list(ANALYSIS_ROWS))
def test_analysis_access_matrix_by_token(world: World, endpoint: str, user: str, case: str) -> None:  # noqa: F811
    token = create_token(world.users[user], "matrix")[1]
    ANALYSIS_ROWS[endpoint](Client(HTTP_AUTHORIZATION=f"Token {token}"), world, user, case)


def test_analysis_rows_cover_every_user_and_case() -> None:
    assert len(ANALYSIS_ROWS) * len(USERS) * len(CASES) == 3 * 5 * 8
