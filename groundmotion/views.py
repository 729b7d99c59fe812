from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from groundmotion import access
from groundmotion.models import Status


def home(request: HttpRequest) -> HttpResponse:
    datasets = access.visible_datasets(request.user).filter(status=Status.PUBLISHED)
    return render(request, "groundmotion/home.html", {"datasets": datasets.order_by("slug")})
