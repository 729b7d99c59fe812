"""The access matrix: every endpoint x every user class x every visibility case, one table.

Each row of ENDPOINTS is a function (client, world, user, case) that makes the request as that
user, against that case's dataset, and asserts the outcome the tables of tests/access/matrix.py
prescribe (VISIBLE, DOWNLOAD, sees_points). Hidden datasets and points must answer exactly like
missing ones; tiles, aggregates and downloads must carry only the points the user may see,
masked ones never. Add a row to ENDPOINTS for every new endpoint that takes a dataset, a point
or a job, or that lists them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.test import Client, override_settings

from accounts.tokens import create_token
from groundmotion import cells
from groundmotion.models import DownloadRecord, GNSSNetwork, GNSSStation
from tests.access.matrix import (
    AREA,
    BBOX,
    CASES,
    DOWNLOAD,
    LAT,
    LON,
    MISSING_SLUG,
    USERS,
    VISIBLE,
    YEARS,
    World,
    build_world,
    downloads,
    make_cast_user,
    masked,
    remove_world,
    sees_points,
    velocities,
    visible,
)
from tests.mvt import get_tile, tile_of

CELL_ZOOM = 8


# The matrix asks who sees which kind of content, with four points per dataset; the floor of
# points per public cell of a reduced dataset is tested in tests/tiles/test_reduced_resolution.py.
@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> World:
    one_point_cells = {**settings.GROUNDMOTION, "REDUCED_MIN_POINTS": 1}
    with django_db_blocker.unblock(), override_settings(GROUNDMOTION=one_point_cells):
        built = World()
        try:
            built = build_world()
            yield built
        finally:
            remove_world(built)


def normalised(response, *secrets: str) -> tuple[int, str]:
    """Status and body with the requested slug or id replaced, for hidden-vs-missing checks."""
    body = response.content.decode(errors="replace")
    for secret in secrets:
        body = body.replace(secret, "<asked>")
    return response.status_code, body


def assert_like_missing(hidden, missing, hidden_key: str, missing_key: str) -> None:
    assert hidden.status_code == 404
    assert normalised(hidden, hidden_key) == normalised(missing, missing_key)


def visible_velocities(case: str) -> np.ndarray:
    return velocities(case)[~masked(case)]


def check_cells(features: list, case: str) -> None:
    """Counts and means of the cells add up to the visible points only (masked ones never)."""
    expected = visible_velocities(case)
    counts = np.array([feature["properties"]["count"] for feature in features])
    means = np.array([feature["properties"]["velocity"] for feature in features])
    assert counts.sum() == len(expected)
    # Cell means are rounded to 0.1 mm/yr in tiles.
    assert (counts * means).sum() == pytest.approx(expected.sum(), abs=0.05 * counts.sum() + 1e-6)
    assert means.max() <= expected.max() + 0.05


def check_points(features: list, world: World, case: str) -> None:
    assert {feature["id"] for feature in features} == world.expected_ids(case)
    found = sorted(round(feature["properties"]["velocity"], 1) for feature in features)
    assert found == sorted(np.round(visible_velocities(case), 1).tolist())


def tile_row(zoom: int) -> Callable:
    def row(client: Client, world: World, user: str, case: str) -> None:
        address = tile_of(LON.mean(), LAT.mean(), zoom)
        slug = world.datasets[case].slug
        status, layers, response = get_tile(client, slug, *address)
        if not visible(case, user):
            missing = get_tile(client, MISSING_SLUG, *address)[2]
            assert_like_missing(response, missing, slug, MISSING_SLUG)
            # A guessed ETag must not turn the 404 into a 304 (which would confirm the dataset).
            dataset = world.datasets[case]
            for kind in ("points", f"cells-{zoom}", f"cells-{min(zoom, cells.finest_level())}"):
                etag = f'"{dataset.pk}.{dataset.version}.{kind}"'
                path = "/tiles/{}/{}/{}/{}.pbf".format(slug, *address)
                assert client.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 404
            return
        assert status == 200
        point_tile = zoom >= settings.GROUNDMOTION["POINT_ZOOM"] and sees_points(case, user)
        assert set(layers) == ({"points"} if point_tile else {"cells"})
        if point_tile:
            check_points(layers["points"], world, case)
        else:
            check_cells(layers["cells"], case)
        if not sees_points(case, user):
            assert response["Cache-Control"].startswith("private")

    return row


def map_page(client: Client, world: World, user: str, case: str) -> None:
    response = client.get("/map/")
    assert response.status_code == 200
    html = response.content.decode()
    assert (f'"slug": "{world.datasets[case].slug}"' in html) == visible(case, user)
    if visible(case, user):
        config = json.loads(html.split('id="viewer-config"', 1)[1].split(">", 1)[1].split("<")[0])
        (listed,) = [
            item for item in config["datasets"] if item["slug"] == world.datasets[case].slug
        ]
        check_extent(listed["extent"], case)


def api_datasets(client: Client, world: World, user: str, case: str) -> None:
    response = client.get("/api/datasets/")
    assert response.status_code == 200
    listed = {item["slug"]: item for item in response.json()["datasets"]}
    slug = world.datasets[case].slug
    assert (slug in listed) == visible(case, user)
    if slug in listed:
        item = listed[slug]
        assert item["sees_points"] == sees_points(case, user)
        # The count must not reveal that masked points exist.
        assert item["point_count"] == len(visible_velocities(case))
        check_extent(item["extent"], case)


def api_dataset(client: Client, world: World, user: str, case: str) -> None:
    """One dataset's detail: what the list says of it, or exactly a missing slug's answer."""
    slug = world.datasets[case].slug
    response = client.get(f"/api/datasets/{slug}/")
    if not visible(case, user):
        missing = client.get(f"/api/datasets/{MISSING_SLUG}/")
        assert_like_missing(response, missing, slug, MISSING_SLUG)
        return
    assert response.status_code == 200
    item = response.json()
    assert item["slug"] == slug and item["sees_points"] == sees_points(case, user)
    assert item["point_count"] == len(visible_velocities(case))
    check_extent(item["extent"], case)


def check_extent(extent: list[float], case: str) -> None:
    """The extent holds every visible point and, in the masked case, not the masked one."""
    west, south, east, north = extent
    keep = ~masked(case)
    assert west <= LON[keep].min() and east >= LON[keep].max()
    assert south <= LAT[keep].min() and north >= LAT[keep].max()
    hidden = masked(case)
    assert not any((LON[hidden] <= east) & (LAT[hidden] <= north))


def api_points(client: Client, world: World, user: str, case: str) -> None:
    slug = world.datasets[case].slug
    response = client.get(f"/api/datasets/{slug}/points/")
    if not visible(case, user):
        missing = client.get(f"/api/datasets/{MISSING_SLUG}/points/")
        assert_like_missing(response, missing, slug, MISSING_SLUG)
    elif not sees_points(case, user):
        assert response.status_code == 403 and "pid" not in response.content.decode()
    else:
        body = response.json()
        assert response.status_code == 200
        assert {point["id"] for point in body["points"]} == world.expected_ids(case)
        assert body["count"] == len(world.expected_ids(case))
        # Filters cannot reach a masked point either.
        high = client.get(f"/api/datasets/{slug}/points/", {"velocity_min": 800}).json()
        assert high["count"] == (0 if case == "masked" else 1)


def point_row(suffix: str, check: Callable, allowed_limit: int = 4) -> Callable:
    """Every point of the dataset (the masked one too): 200 if visible, else like a missing id.

    Plots take ~0.3 s each: their rows render only `allowed_limit` allowed points, but still
    ask for every point that must be refused.
    """

    def row(client: Client, world: World, user: str, case: str) -> None:
        missing_id = world.missing_point_id()
        missing = client.get(f"/api/points/{missing_id}/{suffix}")
        assert missing.status_code == 404
        allowed = world.expected_ids(case) if sees_points(case, user) else set()
        skipped = sorted(allowed)[allowed_limit:]
        for point_id in (pk for pk in world.point_ids[case] if pk not in skipped):
            response = client.get(f"/api/points/{point_id}/{suffix}")
            if point_id in allowed:
                assert response.status_code == 200
                check(response, point_id)
            else:
                assert_like_missing(response, missing, str(point_id), str(missing_id))

    return row


def check_detail(response, point_id: int) -> None:
    body = response.json()
    assert body["id"] == point_id and body["dataset"].startswith("mx-")
    assert body["displacements"][-1] == pytest.approx(body["velocity"] * YEARS[-1], abs=0.1)


def check_png(response, point_id: int) -> None:
    assert response["Content-Type"] == "image/png" and response.content[:4] == b"\x89PNG"


def check_svg(response, point_id: int) -> None:
    assert response["Content-Type"].startswith("image/svg") and b"<svg" in response.content


def check_csv(response, point_id: int) -> None:
    lines = [line for line in response.content.decode().splitlines() if line[:1] != "#"]
    assert lines[0] == "date,los_mm,model_mm,model_std_mm" and len(lines) == 1 + len(YEARS)


def area_mean(client: Client, world: World, user: str, case: str) -> None:
    slug = world.datasets[case].slug

    def ask(name: str):
        data = json.dumps({"dataset": name, "geometry": AREA})
        return client.post("/api/area-mean/", data, content_type="application/json")

    response = ask(slug)
    if not visible(case, user):
        assert_like_missing(response, ask(MISSING_SLUG), slug, MISSING_SLUG)
    elif not sees_points(case, user):
        assert response.status_code == 403
    else:
        body = response.json()
        assert response.status_code == 200
        reference = (visible_velocities(case)[:, None] * YEARS).mean(axis=0)
        assert body["count"] == len(visible_velocities(case))
        assert np.allclose(body["mean"], reference, atol=0.1)  # the codec stores 0.1 mm steps


def public_row(path: str) -> Callable:
    """Endpoints with no dataset in them: 200 for everyone, and no hidden slug in the body."""

    def row(client: Client, world: World, user: str, case: str) -> None:
        response = client.get(path)
        assert response.status_code == 200
        assert world.datasets[case].slug not in response.content.decode()

    return row


def jobs_list(client: Client, world: World, user: str, case: str) -> None:
    response = client.get("/api/jobs/")
    if user == "curator":
        assert response.status_code == 200
        assert world.job.pk in {job["id"] for job in response.json()["jobs"]}
    else:
        assert response.status_code == 403 and "jobs" not in response.json()


def job_detail(client: Client, world: World, user: str, case: str) -> None:
    response = client.get(f"/api/jobs/{world.job.pk}/")
    missing = client.get(f"/api/jobs/{world.job.pk + 1_000_000}/")
    if user == "curator":
        assert response.status_code == 200 and missing.status_code == 404
    else:
        # Whether a job exists does not show: the same 403 for an existing and a missing one.
        assert response.status_code == missing.status_code == 403
        assert response.content == missing.content


def response_text(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def csv_pids(text: str) -> set[str]:
    return {row["pid"] for row in csv.DictReader(io.StringIO(text))}


def api_download(client: Client, world: World, user: str, case: str) -> None:
    dataset = world.datasets[case]
    response = client.get(f"/api/downloads/{dataset.slug}/", {"output": "csv", "bbox": BBOX})
    text = response_text(response)
    if user == "anonymous":
        assert response.status_code == 401 and "Sign in" in text
    elif not visible(case, user):
        assert response.status_code == 404 and dataset.slug not in text
    elif not downloads(case, user):
        assert response.status_code == 403 and "download permission" in text
    else:
        assert response.status_code == 200
        pids = csv_pids(text)
        assert pids == world.expected_pids(case)  # no masked point leaves
        record = DownloadRecord.objects.get()
        assert record.point_count == len(pids) and record.byte_count == len(text.encode())
        return
    assert not DownloadRecord.objects.exists()


def api_estimate(client: Client, world: World, user: str, case: str) -> None:
    dataset = world.datasets[case]

    def ask(slug: str):
        body = json.dumps({"bbox": BBOX})
        return client.post(f"/api/downloads/{slug}/estimate", body, content_type="application/json")

    response = ask(dataset.slug)
    if user == "anonymous":
        assert response.status_code == 401
    elif not visible(case, user):
        assert_like_missing(response, ask(MISSING_SLUG), dataset.slug, MISSING_SLUG)
    elif not downloads(case, user):
        assert response.status_code == 403 and "point_count" not in response.json()
    else:
        assert response.status_code == 200
        assert response.json()["point_count"] == len(world.expected_pids(case))  # masked out


def tilejson(client: Client, world: World, user: str, case: str) -> None:
    slug = world.datasets[case].slug
    for path in ("/tiles/{}.json", "/tiles/{}/tilejson.json"):
        response = client.get(path.format(slug))
        if not visible(case, user):
            missing = client.get(path.format(MISSING_SLUG))
            assert_like_missing(response, missing, slug, MISSING_SLUG)
            continue
        body = response.json()
        assert response.status_code == 200 and body["tilejson"] == "3.0.0"
        layers = {layer["id"] for layer in body["vector_layers"]}
        assert layers == ({"cells", "points"} if sees_points(case, user) else {"cells"})
        check_extent(body["bounds"], case)
        # Only a published public dataset's description may sit in shared caches.
        public = CASES[case].get("visibility") is None and case != "draft"
        assert response["Cache-Control"].startswith("public" if public else "private")


def tile_style(client: Client, world: World, user: str, case: str) -> None:
    slug = world.datasets[case].slug
    response = client.get(f"/tiles/{slug}/style.json")
    if not visible(case, user):
        missing = client.get(f"/tiles/{MISSING_SLUG}/style.json")
        assert_like_missing(response, missing, slug, MISSING_SLUG)
        return
    body = response.json()
    assert response.status_code == 200 and body["version"] == 8
    layers = {layer.get("source-layer") for layer in body["layers"]} - {None}
    assert layers == ({"cells", "points"} if sees_points(case, user) else {"cells"})
    public = CASES[case].get("visibility") is None and case != "draft"
    assert response["Cache-Control"].startswith("public" if public else "private")


def gnss_compare(client: Client, world: World, user: str, case: str) -> None:
    """The station sits in the middle: the two inner points lie within 2 km, the outer two not."""
    network = GNSSNetwork.objects.get_or_create(slug="matrix", defaults={"name": "Matrix"})[0]
    GNSSStation.objects.get_or_create(
        network=network,
        code="MID",
        defaults={
            "geom": f"SRID=4326;POINT({LON.mean()} {LAT.mean()})",
            "velocity_east": 0.0,
            "velocity_north": 0.0,
            "velocity_up": 1.0,
        },
    )
    dataset = world.datasets[case]

    def ask(slug: str):
        query = {"dataset": slug, "radius_m": 2000}
        return client.get("/api/gnss-stations/matrix/MID/compare/", query)

    response = ask(dataset.slug)
    if not visible(case, user):
        assert_like_missing(response, ask(MISSING_SLUG), dataset.slug, MISSING_SLUG)
    elif not sees_points(case, user):
        assert response.status_code == 403 and "points" not in response.json()
    else:
        inner = np.zeros(len(LON), dtype=bool)
        inner[[1, 2]] = True
        expected = velocities(case)[inner & ~masked(case)]
        points = response.json()["points"]
        assert points["count"] == len(expected)  # masked points never count
        if len(expected):
            assert points["mean_velocity"] == pytest.approx(expected.mean(), abs=0.006)


def dialog_offer(client: Client, world: World, user: str, case: str) -> None:
    response = client.get("/downloads/")
    if user == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        return
    assert response.status_code == 200
    offered = f'value="{world.datasets[case].slug}"' in response.content.decode()
    assert offered == downloads(case, user)


def dialog_post(client: Client, world: World, user: str, case: str) -> None:
    data = {"dataset": world.datasets[case].slug, "format": "csv", "bbox": BBOX, "polygon": ""}
    response = client.post("/downloads/", data)
    if user == "anonymous":
        assert response.status_code == 302
    elif not downloads(case, user):
        # The dataset is not among the choices: refused without saying whether it exists.
        assert response.status_code == 400 and "Select a valid choice" in response_text(response)
    else:
        assert response.status_code == 200
        assert csv_pids(response_text(response)) == world.expected_pids(case)


def profile_page(client: Client, world: World, user: str, case: str) -> None:
    response = client.get("/accounts/profile/")
    if user == "anonymous":
        assert response.status_code == 302
        return
    html = response.content.decode()
    assert response.status_code == 200
    assert (f'data-slug="{world.datasets[case].slug}"' in html) == visible(case, user)


def admin_change(client: Client, world: World, user: str, case: str) -> None:
    dataset = world.datasets[case]
    response = client.get(f"/admin/groundmotion/dataset/{dataset.pk}/change/")
    if user == "curator":
        assert response.status_code == 200 and dataset.slug in response.content.decode()
    else:
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def admin_audit(client: Client, world: World, user: str, case: str) -> None:
    response = client.get("/admin/groundmotion/downloadrecord/")
    # Curators in the cast have change_dataset only: the audit needs its own permission.
    assert response.status_code == (403 if user == "curator" else 302)


def ogc_collections(client: Client, world: World, user: str, case: str) -> None:
    listed = {c["id"]: c for c in client.get("/ogc/collections").json()["collections"]}
    slug = world.datasets[case].slug
    assert (slug in listed) == visible(case, user)
    if slug in listed:
        assert listed[slug]["feature_count"] == len(visible_velocities(case))
        assert listed[slug]["features"] == ("points" if sees_points(case, user) else "cells")
        check_extent(listed[slug]["extent"]["spatial"]["bbox"][0], case)


def ogc_items(client: Client, world: World, user: str, case: str) -> None:
    slug = world.datasets[case].slug
    response = client.get(f"/ogc/collections/{slug}/items", {"limit": 2})
    if not visible(case, user):
        missing = client.get(f"/ogc/collections/{MISSING_SLUG}/items", {"limit": 2})
        assert_like_missing(response, missing, slug, MISSING_SLUG)
        return
    features, body = [], response.json()
    while True:
        features += body["features"]
        following = [link["href"] for link in body["links"] if link["rel"] == "next"]
        if not following:
            break
        body = client.get(following[0]).json()
    if sees_points(case, user):
        check_points(features, world, case)
        # Filters cannot reach a masked point either.
        high = client.get(f"/ogc/collections/{slug}/items", {"velocity_min": 800}).json()
        assert high["numberMatched"] == (0 if case == "masked" else 1)
    else:
        assert all(str(feature["id"]).startswith("cell-") for feature in features)
        assert "pid" not in response.content.decode()
        counts = [feature["properties"]["count"] for feature in features]
        assert sum(counts) == len(visible_velocities(case))


def ogc_item(client: Client, world: World, user: str, case: str) -> None:
    slug = world.datasets[case].slug
    missing_id = world.missing_point_id()
    allowed = world.expected_ids(case) if sees_points(case, user) else set()
    for point_id in world.point_ids[case]:
        response = client.get(f"/ogc/collections/{slug}/items/{point_id}")
        if point_id in allowed:
            assert response.status_code == 200 and response.json()["id"] == point_id
            continue
        missing = client.get(f"/ogc/collections/{slug}/items/{missing_id}")
        if not visible(case, user):
            missing = client.get(f"/ogc/collections/{MISSING_SLUG}/items/{point_id}")
            assert_like_missing(response, missing, slug, MISSING_SLUG)
        else:
            assert_like_missing(response, missing, str(point_id), str(missing_id))


ENDPOINTS: dict[str, Callable] = {
    "map": map_page,
    "tile-cells": tile_row(CELL_ZOOM),
    "tile-points": tile_row(settings.GROUNDMOTION["POINT_ZOOM"]),
    "api-datasets": api_datasets,
    "api-dataset": api_dataset,
    "api-points": api_points,
    "api-point": point_row("", check_detail),
    "api-point-plot-png": point_row("plot.png", check_png, allowed_limit=1),
    "api-point-plot-svg": point_row("plot.svg", check_svg, allowed_limit=1),
    "api-point-series-csv": point_row("series.csv", check_csv),
    "api-area-mean": area_mean,
    "api-gnss-stations": public_row("/api/gnss-stations/"),
    "api-gnss-compare": gnss_compare,
    "api-reflectors": public_row("/api/reflectors/"),
    "api-places": public_row("/api/places/?q=dax"),
    "api-schema": public_row("/api/schema/"),
    "api-docs": public_row("/api/docs/"),
    "jobs": jobs_list,
    "job-detail": job_detail,
    "api-download": api_download,
    "api-estimate": api_estimate,
    "tilejson": tilejson,
    "tile-style": tile_style,
    "dialog-offer": dialog_offer,
    "dialog-post": dialog_post,
    "profile": profile_page,
    "admin-change": admin_change,
    "admin-audit": admin_audit,
    "ogc-collections": ogc_collections,
    "ogc-items": ogc_items,
    "ogc-item": ogc_item,
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_access_matrix(client, world: World, endpoint: str, user: str, case: str) -> None:
    if world.users[user] is not None:
        client.force_login(world.users[user])
    ENDPOINTS[endpoint](client, world, user, case)


# The endpoints where data is: each also answers `Authorization: Token …` as it answers the
# token owner's session (the pages (map, dialog, profile, admin) are for browsers and sessions).
TOKEN_ENDPOINTS = [
    "tile-cells",
    "tile-points",
    "tilejson",
    "tile-style",
    "api-datasets",
    "api-dataset",
    "api-points",
    "api-point",
    "api-point-plot-png",
    "api-point-plot-svg",
    "api-point-series-csv",
    "api-area-mean",
    "api-gnss-compare",
    "api-download",
    "api-estimate",
    "job-detail",
    "ogc-collections",
    "ogc-items",
    "ogc-item",
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("user", [user for user in USERS if user != "anonymous"])
@pytest.mark.parametrize("endpoint", TOKEN_ENDPOINTS)
def test_access_matrix_by_token(world: World, endpoint: str, user: str, case: str) -> None:
    """The same outcome tables with the user's API token and no session: allowed users get
    their data, refused ones what the row prescribes for them (404 like missing, 403)."""
    token = create_token(world.users[user], "matrix")[1]
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    ENDPOINTS[endpoint](client, world, user, case)


def data_request(world: World, endpoint: str, case: str) -> tuple[str, str, dict]:
    """One request of the endpoint about the case's dataset: (method, path, data)."""
    slug, point = world.datasets[case].slug, world.point_ids[case][0]
    tile = "/tiles/{}/{}/{}/{}.pbf".format
    return {
        "tile-cells": ("get", tile(slug, *tile_of(LON.mean(), LAT.mean(), CELL_ZOOM)), {}),
        "tile-points": (
            "get",
            tile(slug, *tile_of(LON.mean(), LAT.mean(), settings.GROUNDMOTION["POINT_ZOOM"])),
            {},
        ),
        "tilejson": ("get", f"/tiles/{slug}.json", {}),
        "tile-style": ("get", f"/tiles/{slug}/style.json", {}),
        "api-datasets": ("get", "/api/datasets/", {}),
        "api-dataset": ("get", f"/api/datasets/{slug}/", {}),
        "api-points": ("get", f"/api/datasets/{slug}/points/", {}),
        "api-point": ("get", f"/api/points/{point}/", {}),
        "api-point-plot-png": ("get", f"/api/points/{point}/plot.png", {}),
        "api-point-plot-svg": ("get", f"/api/points/{point}/plot.svg", {}),
        "api-point-series-csv": ("get", f"/api/points/{point}/series.csv", {}),
        "api-area-mean": ("post", "/api/area-mean/", {"dataset": slug, "geometry": AREA}),
        "api-gnss-compare": ("get", "/api/gnss-stations/matrix/MID/compare/", {"dataset": slug}),
        "api-download": ("get", f"/api/downloads/{slug}/", {"output": "csv", "bbox": BBOX}),
        "api-estimate": ("post", f"/api/downloads/{slug}/estimate", {"bbox": BBOX}),
        "job-detail": ("get", f"/api/jobs/{world.job.pk}/", {}),
        "ogc-collections": ("get", "/ogc/collections", {}),
        "ogc-items": ("get", f"/ogc/collections/{slug}/items", {}),
        "ogc-item": ("get", f"/ogc/collections/{slug}/items/{point}", {}),
    }[endpoint]


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("endpoint", TOKEN_ENDPOINTS)
@pytest.mark.parametrize("header", ["Token gms_000000000000_wrong", "Token", "Token two parts"])
def test_a_bad_token_is_refused_never_answered_as_anonymous(
    world: World, endpoint: str, case: str, header: str
) -> None:
    method, path, data = data_request(world, endpoint, case)
    client = Client(HTTP_AUTHORIZATION=header)
    if method == "post":
        response = client.post(path, json.dumps(data), content_type="application/json")
    else:
        response = client.get(path, data)
    text = response_text(response)
    assert "token" in text.lower() and world.datasets[case].slug not in text
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_tile_cache_never_hands_one_users_tile_to_another(world: World, case: str) -> None:
    """One shared cache, the most privileged user first: everyone still gets their own tile."""
    slug = world.datasets[case].slug
    address = tile_of(LON.mean(), LAT.mean(), settings.GROUNDMOTION["POINT_ZOOM"])
    for user in reversed(USERS):
        client = Client()
        if world.users[user] is not None:
            client.force_login(world.users[user])
        status, layers, _ = get_tile(client, slug, *address)
        assert status == (200 if visible(case, user) else 404)
        if status == 200 and sees_points(case, user):
            check_points(layers["points"], world, case)
        elif status == 200:
            assert set(layers) == {"cells"}
            check_cells(layers["cells"], case)


@pytest.mark.django_db
def test_mask_viewers_see_and_count_the_masked_point(world: World) -> None:
    """The other side of the masked case: the view_masked permission shows the point again."""
    viewer = make_cast_user("mask-viewer", [])
    viewer.user_permissions.set(Permission.objects.filter(codename="view_masked"))
    client = Client()
    client.force_login(User.objects.get(pk=viewer.pk))
    dataset = world.datasets["masked"]
    everything = set(world.point_ids["masked"])
    address = tile_of(LON.mean(), LAT.mean(), settings.GROUNDMOTION["POINT_ZOOM"])
    layers = get_tile(client, dataset.slug, *address)[1]
    assert {feature["id"] for feature in layers["points"]} == everything
    listed = client.get("/api/datasets/").json()["datasets"]
    assert [item["point_count"] for item in listed if item["slug"] == dataset.slug] == [4]
    body = client.get(f"/api/datasets/{dataset.slug}/points/").json()
    assert {point["id"] for point in body["points"]} == everything


@pytest.mark.django_db
@pytest.mark.parametrize("user", ["registered", "curator"])
def test_download_dialog_extent_leaves_the_masked_point_out(world: World, user: str) -> None:
    client = Client()
    client.force_login(world.users[user])
    html = client.get("/downloads/").content.decode()
    config = json.loads(html.split('id="download-config"', 1)[1].split(">", 1)[1].split("<")[0])
    (bbox,) = [item["bbox"] for item in config["extents"] if item["slug"] == "mx-masked"]
    check_extent(bbox, "masked")


def test_matrix_size() -> None:
    """Rows x user classes x cases, so that a row or a case dropped by mistake shows."""
    assert len(ENDPOINTS) * len(USERS) * len(CASES) == 31 * 5 * 8
    assert set(TOKEN_ENDPOINTS) <= set(ENDPOINTS) and len(TOKEN_ENDPOINTS) == 19


def test_the_outcome_tables_cover_every_case_with_known_users_only() -> None:
    """Each case has its row in both tables, nobody downloads what they may not know exists,
    and anonymous users never download."""
    assert list(VISIBLE) == list(DOWNLOAD) == list(CASES)
    for case in CASES:
        assert DOWNLOAD[case] <= VISIBLE[case] <= set(USERS)
        assert "anonymous" not in DOWNLOAD[case]
