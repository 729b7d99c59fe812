from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("processing.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("downloads.urls")),
    path("", include("groundmotion.urls")),
]
