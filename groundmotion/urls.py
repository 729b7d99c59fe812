from __future__ import annotations

from django.urls import include, path

from groundmotion import map_views, tile_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("map/", map_views.map_page, name="map"),
    path("tiles/<slug:slug>/<int:zoom>/<int:x>/<int:y>.pbf", tile_views.tile, name="tile"),
    path("tiles/<slug:slug>/tilejson.json", tile_views.tilejson, name="tilejson"),
    path("api/", include("groundmotion.api.urls")),
]
