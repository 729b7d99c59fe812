"""The account page and API token management; sign-in is Django's LoginView (accounts/urls.py),
locked out after repeated failures by django-axes (accounts/lockout.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import ApiToken
from accounts.tokens import create_token, revoke_token
from groundmotion import access
from groundmotion.models import Status, Visibility


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """What the user can see and download, their recent downloads, and their API tokens."""
    user = request.user
    visible = access.visible_datasets(user).order_by("slug")
    downloadable = set(access.downloadable_datasets(user).values_list("pk", flat=True))
    rows = [
        (dataset, access.sees_points(user, dataset), dataset.pk in downloadable)
        for dataset in visible
    ]
    tile_rows = [dataset for dataset, _, _ in rows]
    context = {
        "rows": rows,
        "qgis": qgis_connections(request, tile_rows),
        "point_zoom": settings.GROUNDMOTION["POINT_ZOOM"],
        "tokens": ApiToken.objects.filter(user=user),
        "downloads": user.downloadrecord_set.prefetch_related("datasets")[:20],
        "new_token": request.session.pop("new_token", None),
    }
    return render(request, "accounts/profile.html", context)


def qgis_connections(request: HttpRequest, datasets: list) -> list[dict]:
    """What a QGIS "Vector Tiles" connection of each visible dataset needs: the XYZ URL and,
    for datasets that are not public, the token header."""
    return [
        {
            "name": dataset.name,
            "slug": dataset.slug,
            "url": request.build_absolute_uri(f"/tiles/{dataset.slug}/") + "{z}/{x}/{y}.pbf",
            "tilejson": request.build_absolute_uri(f"/tiles/{dataset.slug}.json"),
            "style": request.build_absolute_uri(f"/tiles/{dataset.slug}/style.json"),
            "needs_token": not (
                dataset.status == Status.PUBLISHED and dataset.visibility == Visibility.PUBLIC
            ),
        }
        for dataset in datasets
    ]


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()[:100]
    if not name:
        messages.error(request, "Give the token a name, e.g. the script that will use it.")
        return redirect("profile")
    _, token = create_token(request.user, name)
    # Shown once on the next page, then dropped from the session.
    request.session["new_token"] = token
    return redirect("profile")


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    if revoke_token(request.user, token_id):
        messages.success(request, "Token revoked.")
    else:
        messages.error(request, "No such active token.")
    return redirect("profile")
