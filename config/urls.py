from __future__ import annotations

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on pages without an icon link (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
    path("", include("processing.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("downloads.urls")),
    path("ogc/", include("ogc.urls")),
    # /healthz, /readyz, /metrics (answered earlier still by operations.middleware).
    path("", include("operations.urls")),
    path("", include("groundmotion.urls")),
]
