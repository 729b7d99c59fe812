"""/ogc/: OGC API - Features, Part 1 Core (one collection per dataset)."""

from __future__ import annotations

from django.urls import path

from ogc import views

urlpatterns = [
    path("", views.landing, name="ogc-landing"),
    path("conformance", views.conformance, name="ogc-conformance"),
    path("api", views.api_definition, name="ogc-api"),
    path("collections", views.collections, name="ogc-collections"),
    path("collections/<slug:slug>", views.collection, name="ogc-collection"),
    path("collections/<slug:slug>/queryables", views.queryables, name="ogc-queryables"),
    path("collections/<slug:slug>/items", views.collection_items, name="ogc-items"),
    path(
        "collections/<slug:slug>/items/<str:feature_id>",
        views.collection_item,
        name="ogc-item",
    ),
]
