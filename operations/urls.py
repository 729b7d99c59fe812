"""/healthz, /readyz, /metrics (also answered early by operations.middleware)."""

from __future__ import annotations

from django.urls import path

from operations.views import ENDPOINTS

urlpatterns = [
    path(route.lstrip("/"), view, name=view.__name__) for route, view in ENDPOINTS.items()
]
