"""The access matrix's cast: visibility cases, who sees and who downloads each, and helpers.

Rows (endpoints) live in tests/test_access_matrix.py; each row is one function, so the tiles
and API of issue 5 can be added as further rows using the same tables.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.contrib.gis.geos import MultiPolygon, Polygon

from groundmotion.models import Dataset, DownloadPolicy, MaskedArea, Status, Visibility
from tests.factories import make_dataset

USERS = ["anonymous", "registered", "member", "outsider", "curator"]
SIGNED_IN = {"registered", "member", "outsider", "curator"}
EVERYONE = set(USERS)

# Four points; the last lies inside the mask of the "masked" case.
LON = [0.010, 0.020, 0.030, 0.040]
LAT = [0.010, 0.020, 0.030, 0.040]
MASKED_INDEX = 3
BBOX = "0,0,0.05,0.05"

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

# Who may know the dataset exists (list it, find it); everyone else gets 404.
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


def build_case(case: str, slug: str = "matrix") -> Dataset:
    spec = CASES[case]
    partners = Group.objects.get(name="partners")
    dataset = make_dataset(
        slug,
        visibility=spec.get("visibility", Visibility.PUBLIC),
        status=spec.get("status", Status.PUBLISHED),
        groups=[partners] if spec.get("partners") else [],
        lon=LON,
        lat=LAT,
        velocity=[1.0, 2.0, 3.0, 4.0],
    )
    if "policy" in spec:
        Dataset.objects.filter(pk=dataset.pk).update(download_policy=spec["policy"])
    if spec.get("download_partners"):
        dataset.download_groups.set([partners])
    if spec.get("mask"):
        square = Polygon.from_bbox((0.035, 0.035, 0.05, 0.05))
        square.srid = 4326
        area = MaskedArea.objects.create(name="Depot", geom=MultiPolygon(square), reason="x")
        area.datasets.set([dataset])
    dataset.refresh_from_db()
    return dataset


def expected_pids(dataset: Dataset, case: str) -> set[str]:
    pids = set(dataset.points.values_list("pid", flat=True))
    if case == "masked":
        pids.discard(f"{dataset.slug[:4].upper()}{MASKED_INDEX:06d}")
    return pids
