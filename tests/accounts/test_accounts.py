"""Sign-in and sign-out, the lock-out after failed sign-ins, password reset by email, the
account page, API tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.db.models import F
from django.http import HttpResponse
from django.test import Client

from accounts.lockout import client_ip
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


LOGIN_PATHS = ["/accounts/login/", "/admin/login/"]
WRONG = "not-the-password"


def sign_in(client: Client, path: str, username: str, password: str, **extra: str) -> HttpResponse:
    return client.post(path, {"username": username, "password": password}, **extra)


def fail(client: Client, path: str, username: str, times: int, **extra: str) -> None:
    """Wrong passwords; none of them may sign in, whatever the lock's state."""
    for _ in range(times):
        assert sign_in(client, path, username, WRONG, **extra).status_code in (200, 429)
    assert "_auth_user_id" not in client.session


def signed_in(client: Client, response: HttpResponse) -> bool:
    return response.status_code == 302 and "_auth_user_id" in client.session


@pytest.mark.parametrize("path", LOGIN_PATHS)
def test_the_right_password_signs_in_on_both_forms(client, curator, path) -> None:
    assert signed_in(client, sign_in(client, path, "curator", PASSWORD))
    assert not AccessAttempt.objects.exists()


@pytest.mark.parametrize("path", LOGIN_PATHS)
def test_twelve_wrong_passwords_lock_the_right_one_out(client, curator, path) -> None:
    wrong = [sign_in(client, path, "curator", WRONG) for _ in range(12)]
    assert [r.status_code for r in wrong] == [200] * 4 + [429] * 8  # the limit is 5
    locked = sign_in(client, path, "curator", PASSWORD)
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert "15 minutes" in locked.content.decode()


def test_failures_for_one_name_do_not_lock_out_another_user_at_that_address(
    client, registered, member
) -> None:
    """Behind a proxy or NAT everyone shares an address: one name's failures are its own."""
    fail(client, "/accounts/login/", "registered", 5)
    assert sign_in(client, "/accounts/login/", "registered", PASSWORD).status_code == 429
    assert signed_in(client, sign_in(client, "/accounts/login/", "member", PASSWORD))


def test_a_locked_name_still_signs_in_from_another_address(client, registered) -> None:
    """The lock is on the (name, address) pair, so guessing from one address cannot lock the
    owner out everywhere; each address gets its own LOGIN_FAILURE_LIMIT guesses."""
    fail(client, "/accounts/login/", "registered", 5, REMOTE_ADDR="203.0.113.9")
    again = sign_in(client, "/accounts/login/", "registered", PASSWORD, REMOTE_ADDR="203.0.113.9")
    assert again.status_code == 429
    elsewhere = sign_in(
        client, "/accounts/login/", "registered", PASSWORD, REMOTE_ADDR="198.51.100.20"
    )
    assert signed_in(client, elsewhere)


def test_the_lock_is_shared_by_both_forms(client, curator) -> None:
    fail(client, "/accounts/login/", "curator", 5)
    assert sign_in(client, "/admin/login/", "curator", PASSWORD).status_code == 429


def test_forwarded_for_is_ignored_without_trusted_proxies(client, registered) -> None:
    """An attacker writing a new X-Forwarded-For each time still counts as one address."""
    for n in range(5):
        sign_in(client, "/accounts/login/", "registered", WRONG, HTTP_X_FORWARDED_FOR=f"10.9.0.{n}")
    locked = sign_in(
        client, "/accounts/login/", "registered", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.0.200"
    )
    assert locked.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_forwarded_for_is_honoured_behind_one_trusted_proxy(client, registered, settings) -> None:
    """The proxy appends the address it saw: that right-most entry is the client, and what a
    client prepended itself does not move it."""
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TRUSTED_PROXY_COUNT": 1}
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(5):
        sign_in(
            client,
            "/accounts/login/",
            "registered",
            WRONG,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.5",
            **proxy,
        )
    locked = sign_in(
        client,
        "/accounts/login/",
        "registered",
        PASSWORD,
        HTTP_X_FORWARDED_FOR="192.0.2.77, 203.0.113.5",
        **proxy,
    )
    assert locked.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    elsewhere = sign_in(
        client,
        "/accounts/login/",
        "registered",
        PASSWORD,
        HTTP_X_FORWARDED_FOR="198.51.100.7",
        **proxy,
    )
    assert signed_in(client, elsewhere)


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "203.0.113.5", "10.0.0.2"),
        (1, "", "10.0.0.2"),
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "192.0.2.1, 203.0.113.5", "203.0.113.5"),
        (2, "192.0.2.1, 203.0.113.5, 10.0.0.1", "203.0.113.5"),
        (2, "203.0.113.5", "203.0.113.5"),  # a shorter chain: its left-most entry
        (1, "192.0.2.1, not-an-address", "10.0.0.2"),
        (1, "2001:db8::5", "2001:db8::5"),
    ],
)
def test_the_client_address_is_the_nth_forwarded_entry_from_the_right(
    rf, settings, count, forwarded, expected
) -> None:
    settings.GROUNDMOTION = {**settings.GROUNDMOTION, "TRUSTED_PROXY_COUNT": count}
    request = rf.post("/accounts/login/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_the_lock_expires_after_the_window(client, registered, settings) -> None:
    fail(client, "/accounts/login/", "registered", 5)
    assert sign_in(client, "/accounts/login/", "registered", PASSWORD).status_code == 429
    window = settings.GROUNDMOTION["LOGIN_FAILURE_WINDOW_S"]
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=window - 5))
    assert sign_in(client, "/accounts/login/", "registered", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=10))
    assert signed_in(client, sign_in(client, "/accounts/login/", "registered", PASSWORD))


def test_the_limit_and_window_come_from_the_groundmotion_settings(client, registered, settings):
    settings.GROUNDMOTION = {
        **settings.GROUNDMOTION,
        "LOGIN_FAILURE_LIMIT": 2,
        "LOGIN_FAILURE_WINDOW_S": 120,
    }
    responses = [sign_in(client, "/accounts/login/", "registered", WRONG) for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 429]
    assert "2 minutes" in responses[-1].content.decode()


def test_a_successful_sign_in_clears_earlier_failures(client, registered) -> None:
    fail(client, "/accounts/login/", "registered", 4)
    assert signed_in(client, sign_in(client, "/accounts/login/", "registered", PASSWORD))
    client.post("/accounts/logout/")
    fail(client, "/accounts/login/", "registered", 4)
    assert signed_in(client, sign_in(client, "/accounts/login/", "registered", PASSWORD))


def test_api_tokens_work_for_a_locked_out_name_and_bad_ones_count_nothing(
    client, member, partners
) -> None:
    """Tokens never go through authenticate(): the lock-out neither blocks nor counts them."""
    make_dataset("group-track", visibility=Visibility.RESTRICTED, groups=[partners])
    _, token = create_token(member, "nightly")
    fail(client, "/accounts/login/", "member", 5)
    attempts = list(AccessAttempt.objects.values_list("pk", "failures_since_start"))
    response = client.get("/api/datasets/", HTTP_AUTHORIZATION=f"Token {token}")
    slugs = [row["slug"] for row in response.json()["datasets"]]
    assert response.status_code == 200 and "group-track" in slugs
    for _ in range(6):
        bad = client.get("/api/datasets/", HTTP_AUTHORIZATION=f"Token {token}x")
        # 403, not 401, from DRF views: the session authenticator listed first names no scheme.
        assert bad.status_code in (401, 403)
    assert list(AccessAttempt.objects.values_list("pk", "failures_since_start")) == attempts


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
    signed = sign_in(client, "/accounts/login/", "registered", "another-long-pass-9")
    assert signed_in(client, signed)


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
