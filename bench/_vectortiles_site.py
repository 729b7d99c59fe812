"""Baseline V for bench/tiles: django-vectortiles on the same model, run from var/bench-venv.

Settings, URLs and WSGI application in one module (DJANGO_SETTINGS_MODULE=bench._vectortiles_site):
our settings plus the vectortiles app, and one tile view per demo dataset with the same
10,000-feature cap as ours.
"""

from __future__ import annotations

import functools

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "vectortiles"]
ROOT_URLCONF = "bench._vectortiles_site"
SLUGS = ("demo-dax-asc-l2a", "demo-dax-desc-l2a")


@functools.cache
def dataset_id(slug: str) -> int:
    from groundmotion.models import Dataset

    return Dataset.objects.values_list("pk", flat=True).get(slug=slug)


def tile_view(slug: str) -> object:
    from vectortiles import VectorLayer
    from vectortiles.views import MVTView

    from groundmotion.models import MeasurementPoint

    class PointLayer(VectorLayer):
        model = MeasurementPoint
        id = "points"
        tile_fields = ("velocity", "temporal_coherence")
        queryset_limit = 10_000

        def get_queryset(self) -> object:
            # The id as a literal, so the points table is pruned to the dataset's partition
            # when the query is planned (a join on the slug is not).
            return MeasurementPoint.objects.filter(dataset_id=dataset_id(slug))

    class PointTileView(MVTView):
        layer_classes = [PointLayer]

    return PointTileView.as_view()


def build_urls() -> list:
    from django.urls import path

    return [path(f"vt/{slug}/<int:z>/<int:x>/<int:y>.pbf", tile_view(slug)) for slug in SLUGS]


def __getattr__(name: str) -> object:
    # urlpatterns and application are built lazily: settings must load before any model import.
    if name == "urlpatterns":
        return build_urls()
    if name == "application":
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()
    raise AttributeError(name)
