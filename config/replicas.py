"""Read replicas: the middleware that picks each request's database, and the database router.

Installed by config/settings.py only when DATABASE_REPLICA_URLS names at least one replica;
without one nothing here runs. In config/, not groundmotion/storage/, because it decides per
HTTP request (method, path, cookie) and is Django configuration (DATABASE_ROUTERS, MIDDLEWARE);
the SQL it needs (the probe) and the request's database live in groundmotion/storage/replicas.py.

- The viewer's reads (GET and HEAD under /tiles/, /api/ and /ogc/, except the jobs and downloads
  APIs, whose GETs record downloads and follow jobs) go to a healthy replica; everything else
  to the primary.
- A request with another method is taken for a write: its response carries a cookie that sends
  the same client's reads to the primary for REPLICA_STICKY_SECONDS, so a curator sees their
  change at once, whatever the replica's lag.
- A replica whose connection broke during a request (it went away mid-request) is marked down
  and the GET is answered again from the primary: it reads only, so running it twice is safe.
  A statement timeout leaves the connection usable and stays the view's answer (a 503).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

from groundmotion.storage import replicas

READ_PREFIXES = ("/tiles/", "/api/", "/ogc/")
PRIMARY_PREFIXES = ("/api/jobs/", "/api/downloads/")
SAFE_METHODS = ("GET", "HEAD")
STICKY_COOKIE = "gm_primary_until"


def is_replica_read(request: HttpRequest) -> bool:
    """Whether the request is one of the viewer's reads, which a replica may answer."""
    path = request.path_info
    return (
        request.method in SAFE_METHODS
        and path.startswith(READ_PREFIXES)
        and not path.startswith(PRIMARY_PREFIXES)
    )


def sticks_to_primary(request: HttpRequest, now: float) -> bool:
    """Whether the client wrote within REPLICA_STICKY_SECONDS (its cookie's time not yet past)."""
    try:
        return float(request.COOKIES.get(STICKY_COOKIE, "0")) > now
    except ValueError:
        return False


def database_for(request: HttpRequest) -> str:
    if not is_replica_read(request) or sticks_to_primary(request, time.time()):
        return DEFAULT_DB_ALIAS
    return replicas.healthy_replica() or DEFAULT_DB_ALIAS


class ReplicaReads:
    """Chooses the request's database once, before any view runs, and holds it while it runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        alias = database_for(request)
        with replicas.reading_from(alias):
            response = self.get_response(request)
        if alias != DEFAULT_DB_ALIAS and not replicas.still_usable(alias):
            # The replica went away mid-request (a 500, or the tile view's 503): it is skipped
            # from now on, and this read, which wrote nothing, runs again on the primary.
            replicas.mark_down(alias)
            response = self.get_response(request)
        if request.method not in SAFE_METHODS:
            seconds = settings.REPLICA_STICKY_SECONDS
            response.set_cookie(
                STICKY_COOKIE,
                str(time.time() + seconds),
                max_age=seconds,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response


class ReplicaRouter:
    """ORM reads go to the request's database (storage.replicas.read_alias), writes and
    migrations to the primary. Replicas are copies of the primary, so any relation holds."""

    def db_for_read(self, model: type[Model], **hints: object) -> str:
        return replicas.read_alias()

    def db_for_write(self, model: type[Model], **hints: object) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, first: Model, second: Model, **hints: object) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool:
        return db == DEFAULT_DB_ALIAS
