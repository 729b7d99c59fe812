"""API routes. The names are stable: tests and the access matrix refer to them."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from groundmotion.api import compare, model, places, profile, views
from groundmotion.api.gnss_series import gnss_series

urlpatterns = [
    path("datasets/", views.datasets, name="api-datasets"),
    path("datasets/<slug:slug>/", views.dataset_detail, name="api-dataset"),
    path("datasets/<slug:slug>/points/", views.points, name="api-points"),
    path("points/<int:point_id>/", views.point_detail, name="api-point"),
    path("points/<int:point_id>/plot.png", views.point_plot_png, name="api-point-plot-png"),
    path("points/<int:point_id>/plot.svg", views.point_plot_svg, name="api-point-plot-svg"),
    path("points/<int:point_id>/series.csv", views.point_series_csv, name="api-point-series-csv"),
    path("points/<int:point_id>/model/", model.point_model, name="api-point-model"),
    path("area-mean/", views.area_mean, name="api-area-mean"),
    path("profile/", profile.profile, name="api-profile"),
    path("gnss-stations/", views.gnss_stations, name="api-gnss-stations"),
    path(
        "gnss-stations/<slug:network>/<str:code>/compare/",
        compare.gnss_compare,
        name="api-gnss-compare",
    ),
    path("gnss-stations/<slug:network>/<str:code>/series/", gnss_series, name="api-gnss-series"),
    path("reflectors/", views.reflectors, name="api-reflectors"),
    path("places/", places.place_search, name="api-places"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
