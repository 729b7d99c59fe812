"""Sign-in and sign-out, throttling, password reset by email, the account page, API tokens."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import ApiToken
from accounts.tokens import create_token, revoke_token, user_for_token
from groundmotion.models import Visibility
from tests.factories import make_dataset

PASSWORD = "a-long-password-1"


def test_login_page_signs_in_and_logout_signs_out(client, registered) -> None:
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "registered", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/accounts/profile/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/accounts/profile/").status_code == 302


def test_login_is_throttled_after_repeated_failures(client, registered, settings) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "LOGIN_FAILURE_LIMIT": 3}
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": "registered", "password": "no"})
        assert response.status_code == 200 and "did not match" in response.content.decode()
    locked = client.post("/accounts/login/", {"username": "registered", "password": PASSWORD})
    assert locked.status_code == 429 and "Too many failed" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_throttling_also_counts_per_address(client, registered, member, settings) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "LOGIN_FAILURE_LIMIT": 2}
    for name in ("someone", "someone-else"):
        client.post("/accounts/login/", {"username": name, "password": "no"})
    response = client.post("/accounts/login/", {"username": "member", "password": PASSWORD})
    assert response.status_code == 429


def test_login_form_requires_csrf(registered) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/accounts/login/", {"username": "registered", "password": PASSWORD})
    assert response.status_code == 403


def test_password_reset_sends_a_working_link(client, registered) -> None:
    response = client.post("/accounts/password-reset/", {"email": "registered@example.org"})
    assert response.status_code == 302 and len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    new = {"new_password1": "another-long-pass-9", "new_password2": "another-long-pass-9"}
    done = client.post(form_page.redirect_chain[-1][0], new)
    assert done.status_code == 302
    assert client.login(username="registered", password="another-long-pass-9")


def test_profile_lists_what_the_user_sees_and_may_download(client, member, partners) -> None:
    make_dataset("group-track", visibility=Visibility.RESTRICTED, groups=[partners])
    make_dataset("other-track", visibility=Visibility.RESTRICTED)
    client.force_login(member)
    html = client.get("/accounts/profile/").content.decode()
    assert 'data-slug="group-track"' in html and 'data-slug="other-track"' not in html
    assert "/downloads/?dataset=group-track" in html


def test_tokens_are_created_shown_once_hashed_and_revocable(client, member) -> None:
    client.force_login(member)
    client.post("/accounts/tokens/", {"name": "nightly"})
    html = client.get("/accounts/profile/").content.decode()
    token = re.search(r'id="new-token">([^<]+)<', html).group(1)
    assert 'id="new-token"' not in client.get("/accounts/profile/").content.decode()
    row = ApiToken.objects.get()
    assert token not in (row.secret_hash, row.prefix) and row.secret_hash != token
    assert user_for_token(token) == member
    client.post(f"/accounts/tokens/{row.pk}/revoke/")
    assert user_for_token(token) is None


@pytest.mark.django_db
def test_a_user_cannot_revoke_someone_elses_token(member, registered) -> None:
    row, token = create_token(member, "mine")
    assert not revoke_token(registered, row.pk)
    assert user_for_token(token) == member


@pytest.mark.django_db
def test_malformed_tokens_are_rejected(member) -> None:
    _, token = create_token(member, "mine")
    for bad in ("", "gms", "gms_x_y", token.replace("gms_", "abc_"), token[:-1]):
        assert user_for_token(bad) is None


def test_token_pages_need_post_and_sign_in(client, member) -> None:
    assert client.post("/accounts/tokens/", {"name": "x"}).status_code == 302  # to login
    client.force_login(member)
    assert client.get("/accounts/tokens/").status_code == 405
