"""No request to /ogc/ is a server error, and every bad one is refused: schemathesis drives
the API from the OpenAPI definition it serves (/ogc/api) against a live server, anonymously and
with a token, each case also aimed at a real collection and feature."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.test import RequestFactory
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from accounts.tokens import create_token
from groundmotion.models import Visibility
from ogc import openapi
from tests.api.test_fuzz import NASTY_NUMBERS, NASTY_TEXT, SCHEMATHESIS_CONFIG
from tests.factories import make_dataset, make_user

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.negative_data_rejection,
]
rng = np.random.default_rng(116)
LON = -1.05 + rng.uniform(-0.02, 0.02, 40)
LAT = 43.70 + rng.uniform(-0.02, 0.02, 40)
SLUGS = ["ogc-fuzz-open", "ogc-fuzz-secret", "ogc-fuzz-reduced"]


def definition() -> dict:
    """The definition /ogc/api serves, built in-process (collection needs it before a server)."""
    return json.loads(json.dumps(openapi.definition(RequestFactory().get("/ogc/api"))))


config = {
    **SCHEMATHESIS_CONFIG,
    "dictionaries": {
        "text": {"values": [*NASTY_TEXT, *SLUGS, "json", "html", "2020-01-01/..", "cell-1-2-3"]},
        "numbers": {"values": NASTY_NUMBERS},
    },
    "generation": {**SCHEMATHESIS_CONFIG["generation"], "max-examples": 25},
    "operations": [],
}
schema = schemathesis.openapi.from_dict(definition(), config=SchemathesisConfig.from_dict(config))


@pytest.fixture
def world(live_server) -> dict:
    partners = Group.objects.create(name="partners")
    user = make_user("fuzzer", groups=[partners])
    open_data = make_dataset(SLUGS[0], lon=LON, lat=LAT, velocity=rng.normal(0, 3, 40))
    make_dataset(SLUGS[1], visibility=Visibility.RESTRICTED, groups=[partners], lon=LON, lat=LAT)
    make_dataset(SLUGS[2], visibility=Visibility.REDUCED, lon=LON, lat=LAT)
    points = [str(pk) for pk in open_data.points.values_list("id", flat=True)[:3]]
    return {"url": live_server.url + "/ogc", "token": create_token(user, "fuzz")[1], "ids": points}


@schema.parametrize()
def test_no_request_to_ogc_is_a_server_error(case, world: dict) -> None:
    for aimed in (False, True):
        if aimed:
            parameters = case.path_parameters or {}
            pick = zlib.crc32(json.dumps([parameters, case.query], default=str).encode())
            if "collectionId" not in parameters:
                return
            parameters["collectionId"] = SLUGS[pick % len(SLUGS)]
            if "featureId" in parameters:
                parameters["featureId"] = world["ids"][pick % len(world["ids"])]
        for headers in ({}, {"Authorization": f"Token {world['token']}"}):
            # An aimed case may turn a bad path parameter valid: only server errors count then.
            chosen = [checks.not_a_server_error] if aimed else CHECKS
            case.call_and_validate(base_url=world["url"], headers=headers, checks=chosen)


def test_the_fuzzed_definition_is_the_served_one(client) -> None:
    served = client.get("/ogc/api").json()
    assert served["paths"] == definition()["paths"]
