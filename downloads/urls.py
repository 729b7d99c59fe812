from __future__ import annotations

from django.urls import path

from downloads import views

app_name = "downloads"

urlpatterns = [
    path("downloads/", views.dialog, name="dialog"),
    path("downloads/jobs/<int:job_id>/", views.job_page, name="job"),
    path("downloads/jobs/<int:job_id>/file", views.job_file, name="job-file"),
    path("api/downloads/jobs/<int:job_id>/", views.api_job, name="api-job"),
    path("api/downloads/<slug:slug>/estimate", views.api_estimate, name="api-estimate"),
    path("api/downloads/<slug:slug>/", views.api_download, name="api-download"),
]
