"""The access matrix's cast and outcome tables: the visibility cases, the user classes, who may
know each case's dataset exists, who may see its points and who may download them.

The cast is built once per module (build_world) and removed after it (remove_world): every
case gets its own dataset, all at the same four locations, so a point leaking from one dataset
into another's tile or aggregate shows up. Velocities are distinctive: dataset k has
10(k+1) + i mm/yr for points 0..2, and point 3 (under the mask in the "masked" case) has
900 + k mm/yr, far above any visible value, so a masked point moving a cell mean, a count or a
feature is caught. The rows (endpoints) that read these tables are in test_matrix.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth.models import Group, Permission, User
from django.contrib.gis.geos import MultiPolygon, Polygon

from groundmotion import cells
from groundmotion.models import (
    Dataset,
    DownloadPolicy,
    MaskedArea,
    ProcessingJob,
    Status,
    Visibility,
)
from tests.factories import DATES, make_dataset

USERS = ["anonymous", "registered", "member", "outsider", "curator"]
SIGNED_IN = {"registered", "member", "outsider", "curator"}
EVERYONE = set(USERS)

CASES: dict[str, dict] = {
    "public": {},
    "reduced": {"visibility": Visibility.REDUCED},
    "registered": {"visibility": Visibility.REGISTERED},
    "restricted": {"visibility": Visibility.RESTRICTED, "partners": True},
    "draft": {"status": Status.DRAFT},
    "masked": {"mask": True},
    "no-download": {"policy": DownloadPolicy.NOBODY},
    "download-groups": {"policy": DownloadPolicy.GROUPS, "download_partners": True},
}

# Who may know the dataset exists (list it, find it); everyone else gets what a missing one
# gets.
VISIBLE = {
    "public": EVERYONE,
    "reduced": EVERYONE,
    "registered": SIGNED_IN,
    "restricted": {"member", "curator"},
    "draft": {"curator"},
    "masked": EVERYONE,
    "no-download": EVERYONE,
    "download-groups": EVERYONE,
}
# Who may download its points.
DOWNLOAD = {
    "public": SIGNED_IN,
    "reduced": SIGNED_IN,
    "registered": SIGNED_IN,
    "restricted": {"member", "curator"},
    "draft": {"curator"},
    "masked": SIGNED_IN,
    "no-download": {"curator"},
    "download-groups": {"member", "curator"},
}

PREFIX = "mx-"
LON = np.array([0.010, 0.020, 0.030, 0.040])
LAT = np.array([0.010, 0.020, 0.030, 0.040])
MASK_BOX = (0.035, 0.035, 0.05, 0.05)
BBOX = "0,0,0.05,0.05"  # all four points, for downloads
# A polygon holding all four points, for the area mean.
AREA = {
    "type": "Polygon",
    "coordinates": [[[0.0, 0.0], [0.05, 0.0], [0.05, 0.05], [0.0, 0.05], [0.0, 0.0]]],
}
MISSING_SLUG = f"{PREFIX}nowhere"
YEARS = np.array([(date - DATES[0]).days / 365.25 for date in DATES])


def velocities(case: str) -> np.ndarray:
    """Velocities of the case's dataset, mm/yr (see the module docstring)."""
    index = list(CASES).index(case)
    return np.array([10.0 * (index + 1) + i for i in range(3)] + [900.0 + index])


def masked(case: str) -> np.ndarray:
    """Which points lie under the case's mask, by the independent box test."""
    if not CASES[case].get("mask"):
        return np.zeros(len(LON), dtype=bool)
    west, south, east, north = MASK_BOX
    return (west < LON) & (east > LON) & (south < LAT) & (north > LAT)


def visible(case: str, user: str) -> bool:
    return user in VISIBLE[case]


def sees_points(case: str, user: str) -> bool:
    """Points rather than cells only: anonymous users get cells alone of a reduced dataset."""
    return visible(case, user) and not (case == "reduced" and user == "anonymous")


def downloads(case: str, user: str) -> bool:
    return user in DOWNLOAD[case]


@dataclass
class World:
    datasets: dict[str, Dataset] = field(default_factory=dict)
    users: dict[str, User | None] = field(default_factory=dict)
    point_ids: dict[str, list[int]] = field(default_factory=dict)
    pids: dict[str, list[str]] = field(default_factory=dict)
    job: ProcessingJob | None = None

    def expected_ids(self, case: str) -> set[int]:
        """Ids of the points everyone in the cast may see or aggregate (masked ones removed)."""
        keep = ~masked(case)
        return {pid for pid, kept in zip(self.point_ids[case], keep, strict=True) if kept}

    def expected_pids(self, case: str) -> set[str]:
        """The pids a download of the whole case must hold (masked ones never leave)."""
        keep = ~masked(case)
        return {pid for pid, kept in zip(self.pids[case], keep, strict=True) if kept}

    def missing_point_id(self) -> int:
        return max(max(ids) for ids in self.point_ids.values()) + 1_000_000


def make_cast_user(name: str, groups: list[Group], curator: bool = False) -> User:
    user = User.objects.create(username=f"{PREFIX}{name}", is_staff=curator)
    user.set_unusable_password()
    user.save()
    user.groups.set(groups)
    if curator:
        user.user_permissions.set(Permission.objects.filter(codename="change_dataset"))
    return User.objects.get(pk=user.pk)


def build_dataset(case: str, partners: Group) -> Dataset:
    spec = CASES[case]
    dataset = make_dataset(
        f"{PREFIX}{case}",
        lon=LON,
        lat=LAT,
        velocity=velocities(case),
        groups=[partners] if spec.get("partners") else [],
        **{name: spec[name] for name in ("visibility", "status") if name in spec},
    )
    Dataset.objects.filter(pk=dataset.pk).update(
        download_policy=spec.get("policy", DownloadPolicy.VIEWERS)
    )
    if spec.get("download_partners"):
        dataset.download_groups.set([partners])
    if spec.get("mask"):
        square = Polygon.from_bbox(MASK_BOX)
        square.srid = 4326
        area = MaskedArea.objects.create(
            name=f"{PREFIX}depot", geom=MultiPolygon(square), reason="x"
        )
        area.datasets.set([dataset])
        cells.refresh_masked_datasets(area)  # what the admin does on saving a mask
    dataset.refresh_from_db()
    return dataset


def build_world() -> World:
    partners = Group.objects.create(name=f"{PREFIX}partners")
    others = Group.objects.create(name=f"{PREFIX}others")
    world = World()
    world.users = {
        "anonymous": None,
        "registered": make_cast_user("registered", []),
        "member": make_cast_user("member", [partners]),
        "outsider": make_cast_user("outsider", [others]),
        "curator": make_cast_user("curator", [], curator=True),
    }
    assert list(world.users) == USERS
    for case in CASES:
        dataset = build_dataset(case, partners)
        world.datasets[case] = dataset
        points = dataset.points.order_by("pid")
        world.point_ids[case] = list(points.values_list("pk", flat=True))
        world.pids[case] = list(points.values_list("pid", flat=True))
    world.job = ProcessingJob.objects.create(kind=ProcessingJob.Kind.choices[0][0])
    return world


def remove_world(world: World) -> None:
    """Delete everything build_world made: the data is committed, outside any test."""
    if world.job is not None:
        ProcessingJob.objects.filter(pk=world.job.pk).delete()
    MaskedArea.objects.filter(name__startswith=PREFIX).delete()
    Dataset.objects.filter(slug__startswith=PREFIX).delete()
    User.objects.filter(username__startswith=PREFIX).delete()
    Group.objects.filter(name__startswith=PREFIX).delete()


# Rows of the analysis endpoints (issue 15): the model, a reference on point detail, the
# profile. Self-contained (test_matrix.py imports this module, not the other way round);
# tests/access/test_matrix_analysis.py runs them over every user class and case.
PROFILE_LINE = {"type": "LineString", "coordinates": [[0.005, 0.005], [0.045, 0.045]]}


def _like_missing(hidden, missing, hidden_key: str, missing_key: str) -> None:
    def text(response, secret: str) -> tuple[int, str]:
        return response.status_code, response.content.decode().replace(secret, "<asked>")

    assert hidden.status_code == 404
    assert text(hidden, hidden_key) == text(missing, missing_key)


def model_row(client, world: World, user: str, case: str) -> None:
    """The model of every point: 200 with the point's velocity if visible, else like missing.
    The step (inside the dates) makes the request reach the fit, not only the lookup."""
    missing_id = world.missing_point_id()
    missing = client.get(f"/api/points/{missing_id}/model/", {"step": "2022-03-01"})
    assert missing.status_code == 404
    allowed = world.expected_ids(case) if sees_points(case, user) else set()
    speeds = dict(zip(world.point_ids[case], velocities(case), strict=True))
    for point_id in world.point_ids[case]:
        response = client.get(f"/api/points/{point_id}/model/", {"step": "2022-03-01"})
        if point_id in allowed:
            assert response.status_code == 200
            found = {item["name"]: item["value"] for item in response.json()["parameters"]}
            # velocity x years stored in 0.1 mm steps: over 0.48 years, with a step fitted too,
            # the rounding moves the slope by up to a few tenths of a mm/yr.
            assert abs(found["velocity"] - speeds[point_id]) < 0.5
            assert abs(found["step"]) < 0.2
        else:
            _like_missing(response, missing, str(point_id), str(missing_id))


def reference_row(client, world: World, user: str, case: str) -> None:
    """A reference is a point like any other: one the user may not see (masked, or in a
    dataset hidden from them) answers like a missing id, never as a hint that it exists."""
    missing_id = world.missing_point_id()
    first = world.point_ids[case][0]
    if not sees_points(case, user):
        assert client.get(f"/api/points/{first}/", {"reference": first}).status_code == 404
        return
    missing = client.get(f"/api/points/{first}/", {"reference": missing_id})
    assert missing.status_code == 404
    allowed = world.expected_ids(case)
    for reference in world.point_ids[case]:
        response = client.get(f"/api/points/{first}/", {"reference": reference})
        if reference in allowed:
            assert response.status_code == 200
            body = response.json()
            assert body["reference"]["point_id"] == reference
            if reference == first:
                assert set(body["displacements"]) == {0.0}
        else:
            _like_missing(response, missing, str(reference), str(missing_id))
    # A point of another (restricted) dataset: 400 to whoever sees it, else like missing.
    foreign = world.point_ids["restricted" if case != "restricted" else "public"][0]
    response = client.get(f"/api/points/{first}/", {"reference": foreign})
    if sees_points("restricted" if case != "restricted" else "public", user):
        assert response.status_code == 400 and "reference" in response.json()
    else:
        _like_missing(response, missing, str(foreign), str(missing_id))


def profile_row(client, world: World, user: str, case: str) -> None:
    """The profile through all four points: only the visible ones, masked never."""
    import json

    slug = world.datasets[case].slug

    def ask(name: str):
        body = json.dumps({"dataset": name, "line": PROFILE_LINE, "width": 200})
        return client.post("/api/profile/", body, content_type="application/json")

    response = ask(slug)
    if not visible(case, user):
        _like_missing(response, ask(MISSING_SLUG), slug, MISSING_SLUG)
    elif not sees_points(case, user):
        assert response.status_code == 403 and "points" not in response.json()
    else:
        assert response.status_code == 200
        points = response.json()["points"]
        assert {point["id"] for point in points} == world.expected_ids(case)
        found = sorted(point["velocity"] for point in points)
        keep = ~masked(case)
        assert np.allclose(found, sorted(velocities(case)[keep]), atol=1e-3)


ANALYSIS_ROWS = {
    "api-point-model": model_row,
    "api-point-reference": reference_row,
    "api-profile": profile_row,
}
