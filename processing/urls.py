from __future__ import annotations

from django.urls import path

from processing import api

urlpatterns = [
    path("api/jobs/", api.jobs, name="jobs"),
    path("api/jobs/<int:job_id>/", api.job_detail, name="job-detail"),
]
