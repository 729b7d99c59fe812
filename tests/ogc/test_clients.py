"""Two clients nobody here wrote, against a live server: GDAL's OAPIF driver (what QGIS uses
underneath) and OWSLib's Features. Both page through every item of a dataset; a restricted
collection appears only with the group's token."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from owslib.ogcapi.features import Features

from accounts.tokens import create_token
from groundmotion.models import MeasurementPoint, Visibility
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db(transaction=True)
rng = np.random.default_rng(61)
COUNT = 2_345  # more than one page of GDAL's and OWSLib's requests
LON = rng.uniform(-1.06, -1.04, COUNT)
LAT = rng.uniform(43.70, 43.72, COUNT)


@pytest.fixture
def datasets(partners):
    public = make_dataset("ogc-open", lon=LON, lat=LAT, velocity=rng.normal(0, 4, COUNT))
    secret = make_dataset(
        "ogc-closed",
        lon=LON[:500],
        lat=LAT[:500],
        visibility=Visibility.RESTRICTED,
        groups=[partners],
    )
    return public, secret


def ogrinfo(*arguments: str, token: str | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "CPL_DEBUG": "OFF", "GDAL_HTTP_TIMEOUT": "30"}
    if token:
        environment["GDAL_HTTP_HEADERS"] = f"Authorization: Token {token}"
    return subprocess.run(
        ["ogrinfo", "-ro", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_gdal_lists_the_collections_and_reads_every_feature(live_server, datasets, member):
    source = f"OAPIF:{live_server.url}/ogc/"
    listed = ogrinfo(source)
    assert listed.returncode == 0, listed.stderr
    assert "ogc-open" in listed.stdout and "ogc-closed" not in listed.stdout
    # -al without -so fetches every feature through the next links (GDAL pages by itself).
    every = ogrinfo(source, "ogc-open", "-oo", "PAGE_SIZE=1000", "-fields=NO", "-geom=NO")
    assert every.returncode == 0, every.stderr
    assert every.stdout.count("OGRFeature(ogc-open)") == COUNT
    summary = ogrinfo("-so", source, "ogc-open")
    assert f"Feature Count: {COUNT}" in summary.stdout
    assert "velocity: Real" in summary.stdout and "pid: String" in summary.stdout
    token = create_token(member, "qgis")[1]
    with_token = ogrinfo(source, token=token)
    assert "ogc-closed" in with_token.stdout, with_token.stderr
    closed = ogrinfo("-so", source, "ogc-closed", token=token)
    assert "Feature Count: 500" in closed.stdout, closed.stderr
    refused = ogrinfo("-so", source, "ogc-closed")
    assert refused.returncode != 0 or "Feature Count" not in refused.stdout


def all_items(features: Features, collection: str, limit: int) -> list[dict]:
    """OWSLib gives one page per call: follow the next links' query as its caller would."""
    found, parameters = [], {"limit": limit}
    while True:
        page = features.collection_items(collection, **parameters)
        found += page["features"]
        following = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not following:
            return found
        parameters = {
            name: values[0] for name, values in parse_qs(urlparse(following[0]).query).items()
        }


def test_owslib_reads_collections_and_pages_through_every_item(live_server, datasets, member):
    public, _ = datasets
    anonymous = Features(f"{live_server.url}/ogc/")
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in anonymous.conformance()["conformsTo"]
    )
    ids = [collection["id"] for collection in anonymous.collections()["collections"]]
    assert "ogc-open" in ids and "ogc-closed" not in ids
    described = anonymous.collection("ogc-open")
    assert described["extent"]["spatial"]["bbox"][0][0] == pytest.approx(LON.min(), abs=1e-6)
    features = all_items(anonymous, "ogc-open", 500)
    stored = set(MeasurementPoint.objects.filter(dataset=public).values_list("id", flat=True))
    assert len(features) == COUNT and {feature["id"] for feature in features} == stored
    token = create_token(member, "owslib")[1]
    member_view = Features(f"{live_server.url}/ogc/", headers={"Authorization": f"Token {token}"})
    assert "ogc-closed" in [c["id"] for c in member_view.collections()["collections"]]
    assert len(all_items(member_view, "ogc-closed", 200)) == 500
    queryables = member_view.collection_queryables("ogc-closed")
    assert "velocity" in queryables["properties"]
