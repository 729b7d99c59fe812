"""Who makes a request: the session's user, or the owner of `Authorization: Token gms_…`.

request_user is the one resolver, for Django views (tiles, TileJSON) and DRF alike
(ApiTokenAuthentication calls it). A token that is present but wrong or revoked is a refusal
(401), never a fall-back to the session or to anonymous: a script would otherwise quietly get
the public subset of the data and believe it complete.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, JsonResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.tokens import user_for_token

KEYWORD = "Token"


class TokenRefused(Exception):
    """An `Authorization: Token …` header that names no active token."""


def token_from(request: HttpRequest) -> str | None:
    """The token of the request's `Authorization: Token …` header; None without such a header.
    Raises TokenRefused for a Token header without exactly one value."""
    header = request.META.get("HTTP_AUTHORIZATION", "").split()
    if not header or header[0] != KEYWORD:
        return None
    if len(header) != 2:
        raise TokenRefused("Give exactly one token after 'Token'.")
    return header[1]


def user_of_token(request: HttpRequest) -> User | None:
    """The token's user, None when the request carries no token; TokenRefused for a bad one."""
    token = token_from(request)
    if token is None:
        return None
    user = user_for_token(token)
    if user is None:
        raise TokenRefused("Invalid or revoked API token.")
    return user


def request_user(request: HttpRequest) -> User | AnonymousUser:
    """The token's user when the request carries a token, else the session's (or anonymous)."""
    return user_of_token(request) or request.user


def uses_token(request: HttpRequest) -> bool:
    return "HTTP_AUTHORIZATION" in request.META


def token_refusal(error: TokenRefused) -> JsonResponse:
    """The 401 of a bad token, for plain Django views (DRF's own says the same)."""
    response = JsonResponse({"detail": str(error)}, status=401)
    response["WWW-Authenticate"] = KEYWORD
    return response


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates scripted clients; a wrong or revoked token is a 401, never a fallback."""

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        try:
            user = user_of_token(request._request)
        except TokenRefused as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        return (user, None) if user is not None else None

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token header in the OpenAPI schema."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema: object) -> dict:
        description = "`Token gms_…`, created on the account page; revocable."
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": description,
        }
