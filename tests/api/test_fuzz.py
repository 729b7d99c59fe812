"""No request to the API is a server error: the API fuzzed from its own OpenAPI schema with
schemathesis.

Every operation of /api/schema/ is called over HTTP on pytest-django's live server (a real
threaded server on the test database, PostGIS included), with a few datasets, points, GNSS
stations, reflectors and an export job loaded, once as an anonymous user and once signed in
with an API token. Each generated request is sent as generated and again aimed at a real object
(its slug, point id or job id replaced by one that exists), so the filters and bodies reach real
rows rather than only 404s.

Bounded and repeatable: MAX_EXAMPLES per operation and generation mode (positive, negative),
derandomized (the same cases every run), no example database, plus the deterministic examples
and coverage phases (boundary values from the schema). Generated strings and numbers draw half
the time from a dictionary of values that are easy to leave unchecked (NUL bytes, numbers
beyond int64 or a float, deep JSON). About 775 cases and 1,900
requests; 35-60 s.
"""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
import schemathesis
from django.contrib.auth.models import Group
from drf_spectacular.generators import SchemaGenerator
from schemathesis import checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NotSet

from accounts.tokens import create_token
from groundmotion.models import (
    DownloadPolicy,
    Level,
    ProcessingJob,
    Visibility,
)
from tests.factories import make_dataset, make_station_and_reflector, make_user

MAX_EXAMPLES = 40
SEED = 12
# Only checked for 500s: processing/'s job API (annotated there) and drf-spectacular's own
# schema view (it serves the schema whatever `lang` it is given).
FOREIGN_PATHS = ("/api/jobs/", "/api/jobs/{job_id}/", "/api/schema/")
EVERY_CHECK = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
AIMED_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]

rng = np.random.default_rng(SEED)
LON = -1.05 + rng.uniform(-0.02, 0.02, 60)
LAT = 43.70 + rng.uniform(-0.02, 0.02, 60)
VELOCITY = rng.normal(0, 3, 60)
# Cases generated and requests sent per operation, summed up at the end of the module.
CASES: Counter = Counter()
REQUESTS: Counter = Counter()
SECONDS: Counter = Counter()


@dataclass
class World:
    """What the fuzz runs against: the server's URL, a token and ids of real objects."""

    base_url: str
    token: str
    slugs: list[str]
    point_ids: list[int]
    job_ids: list[int]
    aimed: set[str] = field(default_factory=set)


@pytest.fixture
def world(live_server) -> World:
    partners = Group.objects.create(name="partners")
    user = make_user("fuzzer", groups=[partners])
    open_data = make_dataset("open", lon=LON, lat=LAT, velocity=VELOCITY, level=Level.L2B)
    open_data.download_policy = DownloadPolicy.VIEWERS
    open_data.save(update_fields=["download_policy"])
    make_dataset("secret", visibility=Visibility.RESTRICTED, groups=[partners], lon=LON, lat=LAT)
    make_dataset("reduced", visibility=Visibility.REDUCED, lon=LON, lat=LAT)
    make_station_and_reflector()
    job = ProcessingJob.objects.create(kind=ProcessingJob.Kind.EXPORT, user=user, parameters={})
    _, token = create_token(user, "fuzz")
    points = list(open_data.points.order_by("id").values_list("id", flat=True)[:3])
    return World(live_server.url, token, ["open", "secret", "reduced"], points, [job.pk])


def openapi_schema() -> dict:
    """The schema /api/schema/ serves, built in-process: collection needs it before any
    server runs (test_the_fuzzed_schema_is_the_served_one checks they agree)."""
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))


# Values a view can pass unchecked to the database or GEOS (NUL bytes, numbers beyond int64 or
# a float), and real slugs and formats: mixed into generated strings and numbers so that a
# bounded run still meets them.
NASTY_TEXT = [
    "a\x00b",
    "\x00",
    "1e400",
    "-1e400",
    "nan",
    "inf",
    "9" * 400,
    ",,,",
    "0,0,1e400,1",
    "-1.07,43.69,-1.0,43.72",
    "POLYGON EMPTY",
    "POLYGON((0 0, 1e300 0, 1 1, 0 0))",
    "POLYGON((-1.06 43.69, -1.03 43.71, -1.03 43.69, -1.06 43.71, -1.06 43.69))",
    "open",
    "secret",
    "reduced",
    "csv",
    "gpkg",
    "geotiff",
]
NASTY_NUMBERS = [0, -1, 2**31, 2**63, -(2**63) - 1, 10**30, 1e308, -1e308, 5e-324]
SCHEMATHESIS_CONFIG = {
    "seed": SEED,
    "suppress-health-check": ["all"],
    "dictionaries": {"text": {"values": NASTY_TEXT}, "numbers": {"values": NASTY_NUMBERS}},
    "generation": {
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
        "with-security-parameters": False,
        "dictionaries": {
            "string": {"dictionary": "text", "probability": 0.5},
            "integer": {"dictionary": "numbers", "probability": 0.5},
            "number": {"dictionary": "numbers", "probability": 0.5},
        },
    },
    "phases": {"stateful": {"enabled": False}},
    # The schema view's coverage cases (every `lang` Django knows) would take a tenth of the run.
    "operations": [{"include-path": "/api/schema/", "phases": {"coverage": {"enabled": False}}}],
}
schema = schemathesis.openapi.from_dict(
    openapi_schema(), config=SchemathesisConfig.from_dict(SCHEMATHESIS_CONFIG)
)


@schema.parametrize()
def test_no_request_is_a_server_error(case, world: World) -> None:
    """Each case as generated and aimed at a real object, anonymous and with the token. The
    aimed copy skips negative_data_rejection: a negative case may turn valid once its bad path
    parameter is replaced."""
    foreign = case.operation.path in FOREIGN_PATHS
    CASES[case.operation.label] += 1
    send(case, world, [checks.not_a_server_error] if foreign else EVERY_CHECK)
    if aim(case, world) and once(case, world):
        send(case, world, [checks.not_a_server_error] if foreign else AIMED_CHECKS)


def send(case, world: World, checks_to_run: list) -> None:
    """The case anonymously, then with the API token (a signed-in user)."""
    for headers in ({}, {"Authorization": f"Token {world.token}"}):
        REQUESTS[case.operation.label] += 1
        start = time.perf_counter()
        try:
            case.call_and_validate(base_url=world.base_url, headers=headers, checks=checks_to_run)
        finally:
            SECONDS[case.operation.label] += time.perf_counter() - start


def once(case, world: World) -> bool:
    """Whether this aimed request is new: many cases aim at the same few objects, and a plot
    drawn twice for the same point tells nothing new."""
    key = fingerprint([case.operation.label, case.path_parameters, case.query, body_of(case)])
    new = key not in world.aimed
    world.aimed.add(key)
    return new


def aim(case, world: World) -> bool:
    """Point the case at a real object, picked by a checksum of the case (stable from run to
    run, unlike hash()); False if the case names no object."""
    parameters = case.path_parameters or {}
    pick = zlib.crc32(fingerprint([parameters, body_of(case)]).encode())
    aimed = False
    for name, choices in (
        ("slug", world.slugs),
        ("point_id", world.point_ids),
        ("job_id", world.job_ids),
    ):
        if name in parameters:
            parameters[name] = choices[pick % len(choices)]
            aimed = True
    if isinstance(case.body, dict) and "dataset" in case.body:
        case.body["dataset"] = world.slugs[pick % len(world.slugs)]
        aimed = True
    return aimed


def body_of(case) -> object:
    return None if isinstance(case.body, NotSet) else case.body


def fingerprint(value: object) -> str:
    """Text that is the same for equal values from run to run (repr() of some objects holds
    their address)."""
    return json.dumps(value, sort_keys=True, default=str)


@pytest.fixture(scope="module", autouse=True)
def fuzz_summary(request) -> Iterator[None]:
    """After the module: how many operations, cases and requests the fuzz ran, and how long
    each operation's requests took (a failure's header names its operation)."""
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if not CASES or capture is None:
        return
    with capture.global_and_fixture_disabled():
        print(
            f"\nschemathesis: {len(CASES)} operations, {sum(CASES.values())} cases "
            f"({min(CASES.values())}-{max(CASES.values())} per operation), "
            f"{sum(REQUESTS.values())} requests in {sum(SECONDS.values()):.1f} s"
        )
        for label, count in sorted(CASES.items()):
            print(f"  {label}: {count} cases, {REQUESTS[label]} requests, {SECONDS[label]:.1f} s")


def test_the_fuzzed_schema_is_the_served_one(client) -> None:
    served = client.get("/api/schema/", {"format": "json"})
    assert served.status_code == 200
    assert served.json() == openapi_schema()
