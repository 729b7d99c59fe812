"""Open data across sites: tiles, TileJSON, styles and /ogc/ carry `Access-Control-Allow-Origin:
*` and answer the preflight of a request with a token; nothing else does. A browser never
exposes a `*` response to a credentialed (cookie) request, so sessions stay same-site."""

from __future__ import annotations

import pytest

from tests.factories import client_for, make_dataset

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/ogc/collections", "/tiles/cors.json", "/tiles/cors/style.json"])
def test_open_data_paths_allow_any_origin(path: str) -> None:
    make_dataset("cors", lon=[-1.05], lat=[43.7])
    response = client_for().get(path, HTTP_ORIGIN="https://maps.example.org")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


def test_the_preflight_of_a_token_request_is_answered() -> None:
    response = client_for().options(
        "/ogc/collections/any/items",
        HTTP_ORIGIN="https://maps.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response["Access-Control-Allow-Headers"]


@pytest.mark.parametrize("path", ["/api/datasets/", "/accounts/login/", "/"])
def test_other_paths_stay_same_site(path: str) -> None:
    response = client_for().get(path, HTTP_ORIGIN="https://maps.example.org")
    assert "Access-Control-Allow-Origin" not in response


def test_an_unknown_ogc_path_is_a_json_404() -> None:
    response = client_for().get("/ogc/nowhere")
    assert response.status_code == 404 and response.json()["code"] == "NotFound"
