from __future__ import annotations

from django.urls import include, path

from groundmotion import map_views, tile_metadata, tile_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("map/", map_views.map_page, name="map"),
    path("tiles/<slug:slug>/<int:zoom>/<int:x>/<int:y>.pbf", tile_views.tile, name="tile"),
    # A slug has no dot, so "<slug>.json" never takes a tile or a document below a slug.
    path("tiles/<slug:slug>.json", tile_metadata.tilejson, name="tilejson"),
    path("tiles/<slug:slug>/tilejson.json", tile_metadata.tilejson, name="tilejson-alias"),
    path("tiles/<slug:slug>/style.json", tile_metadata.style, name="tile-style"),
    path("api/", include("groundmotion.api.urls")),
]
