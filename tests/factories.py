"""Explicit builders for test objects: users of every class, datasets at each visibility, and
test clients signed in as a user."""

from __future__ import annotations

import datetime

import numpy as np
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from groundmotion.models import (
    CornerReflector,
    Dataset,
    GNSSNetwork,
    GNSSStation,
    Level,
    Status,
    Visibility,
)
from groundmotion.storage import copy_in

DATES = [datetime.date(2022, 1, 1) + datetime.timedelta(days=6 * i) for i in range(30)]


def make_user(
    username: str, *, groups: list[Group] = (), curator: bool = False, perms: list[str] = ()
) -> User:
    user = User.objects.create_user(username, f"{username}@example.org", "a-long-password-1")
    user.groups.set(groups)
    codenames = list(perms) + (["change_dataset"] if curator else [])
    if codenames:
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    if curator:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return User.objects.get(pk=user.pk)  # fresh: no stale permission cache


def make_dataset(
    slug: str,
    *,
    visibility: str = Visibility.PUBLIC,
    status: str = Status.PUBLISHED,
    groups: list[Group] = (),
    lon: np.ndarray | None = None,
    lat: np.ndarray | None = None,
    velocity: np.ndarray | None = None,
    series: np.ndarray | None = None,
    level: str = Level.L2A,
    pass_direction: str = "ascending",
) -> Dataset:
    """A dataset with points at (lon, lat); series default to velocity x years."""
    dataset = Dataset.objects.create(
        slug=slug,
        name=slug.replace("-", " ").title(),
        level=level,
        pass_direction=pass_direction,
        acquisition_dates=DATES,
        status=status,
        visibility=visibility,
    )
    dataset.allowed_groups.set(groups)
    if lon is None:
        return dataset
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    count = len(lon)
    velocity = np.zeros(count) if velocity is None else np.asarray(velocity, dtype=float)
    if series is None:
        years = np.array([(d - DATES[0]).days / 365.25 for d in DATES])
        series = (velocity[:, None] * years).astype(np.float32)
    ids = copy_in.reserve_point_ids(count, dataset.pk)
    pids = np.array([f"{slug[:4].upper()}{i:06d}" for i in range(count)])
    copy_in.copy_points(
        dataset,
        ids,
        pids,
        lon,
        lat,
        {"velocity": velocity, "temporal_coherence": np.full(count, 0.9)},
    )
    copy_in.copy_series(ids, np.asarray(series, dtype=np.float32))
    copy_in.refresh_summary(dataset)
    return dataset


def client_for(user=None) -> Client:
    """A test client, signed in as user unless user is None (anonymous)."""
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def make_station_and_reflector() -> None:
    """GNSS station DAX1 (network "net"; east 0.5, north 0.1, up -2.0 mm/yr) at -1.05, 43.7 and
    corner reflector CR1 (legs 0.9 m) at -1.09, 43.73."""
    network = GNSSNetwork.objects.create(slug="net", name="Net")
    GNSSStation.objects.create(
        network=network,
        code="DAX1",
        geom="SRID=4326;POINT(-1.05 43.7)",
        velocity_east=0.5,
        velocity_north=0.1,
        velocity_up=-2.0,
    )
    CornerReflector.objects.create(code="CR1", geom="SRID=4326;POINT(-1.09 43.73)", leg_length=0.9)
