from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from groundmotion import access


def site(request: HttpRequest) -> dict:
    return {"site_name": settings.SITE_NAME, "viewer": access.describe(request.user)}
