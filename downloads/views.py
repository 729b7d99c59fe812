"""The download dialog, export-job pages, and the token-friendly download API."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import api_view, authentication_classes
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ApiTokenAuthentication
from downloads import history, jobs, service
from downloads.forms import DownloadForm, dataset_label
from groundmotion import access
from groundmotion.api.openapi import error_responses
from groundmotion.exports.writers import CONTENT_TYPES, EXTENSIONS, Format, csv_chunks, write_export
from groundmotion.map_views import basemap_config
from groundmotion.models import Dataset, DownloadRecord, ProcessingJob
from groundmotion.quantities import quantity

# Token first, so that a bad token answers 401 with `WWW-Authenticate: Token`.
API_AUTHENTICATION = [ApiTokenAuthentication, SessionAuthentication]
# A finished download is one file in the format asked for.
FILE_RESPONSES = {(200, media_type): OpenApiTypes.BINARY for media_type in CONTENT_TYPES.values()}


def deliver(user: object, plan: service.DownloadPlan) -> HttpResponse:
    """Stream a small download at once, recorded before its first byte."""
    record = service.record_download(user, plan)
    filename = f"{plan.dataset.slug}.{EXTENSIONS[plan.export_format]}"
    if plan.export_format == Format.CSV:
        response = StreamingHttpResponse(
            counted(csv_chunks(plan.points, plan.dataset), record),
            content_type=CONTENT_TYPES[Format.CSV],
        )
    else:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / filename
            result = write_export(plan.export_format, plan.points, plan.dataset, path)
            handle = open(path, "rb")  # noqa: SIM115 (FileResponse closes it)
        DownloadRecord.objects.filter(pk=record.pk).update(byte_count=result.byte_count)
        response = FileResponse(handle, content_type=CONTENT_TYPES[plan.export_format])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Point-Count"] = str(plan.point_count)
    return response


def counted(blocks: Iterator[bytes], record: DownloadRecord) -> Iterator[bytes]:
    """Pass the blocks through and store how many bytes left when the stream ends."""
    sent = 0
    try:
        for block in blocks:
            sent += len(block)
            yield block
    finally:
        DownloadRecord.objects.filter(pk=record.pk).update(byte_count=sent)


def map_config(user: object) -> dict:
    """What the page's script needs: the base map, a start view, the downloadable datasets
    (name, extent, sign note) and the URLs of tiles, estimates and jobs."""
    leaflet = settings.LEAFLET_CONFIG
    datasets = []
    for dataset in access.downloadable_datasets(user).order_by("name", "slug"):
        # The extent as the user may know it: masked points must not stretch it.
        extent = access.visible_summary(user, dataset)[1]
        datasets.append(
            {
                "slug": dataset.slug,
                "name": dataset.name,
                "label": dataset_label(dataset),
                "bbox": list(extent) if extent else None,
                "sign_convention": quantity(dataset)["sign_convention"],
                "velocity_label": quantity(dataset)["velocity_label"],
            }
        )
    return {
        "center": list(leaflet["DEFAULT_CENTER"]),
        "zoom": leaflet["DEFAULT_ZOOM"],
        "basemap": basemap_config(),
        "datasets": datasets,
        "extents": [
            {"slug": item["slug"], "bbox": item["bbox"]} for item in datasets if item["bbox"]
        ],
        "tileUrl": "/tiles/{slug}/{z}/{x}/{y}.pbf",
        "pointZoom": settings.GROUNDMOTION["POINT_ZOOM"],
        "estimateUrl": "/api/downloads/{slug}/estimate",
        "downloadUrl": "/api/downloads/{slug}/",
        "jobUrl": "/api/downloads/jobs/{id}/",
        "syncPoints": service.limits()["DOWNLOAD_SYNC_POINTS"],
    }


def render_dialog(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    context["map_config"] = map_config(request.user)
    context["past_downloads"] = history.past_downloads(request.user)
    return render(request, "downloads/dialog.html", context, status=status)


@login_required
def dialog(request: HttpRequest) -> HttpResponse:
    """GET: the dialog. POST: download now, or queue an export job and show its page."""
    # The viewer's "download these points" link brings the dataset and its drawn area.
    initial = {
        name: request.GET.get(name) for name in ("dataset", "bbox", "polygon", *service.FILTERS)
    }
    form = DownloadForm(request.user, request.POST or None, initial=initial)
    if request.method != "POST" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render_dialog(request, {"form": form}, status)
    data = form.cleaned_data
    try:
        plan = service.plan_download(
            request.user,
            data["dataset"].slug,
            data["format"],
            data["bbox"],
            data["polygon"],
            {name: data[name] for name in service.FILTERS},
        )
    except service.DownloadRefused as refusal:
        context = {"form": form, "refusal": refusal.message}
        return render_dialog(request, context, refusal.status)
    if plan.immediate:
        return deliver(request.user, plan)
    job = jobs.create_job(request.user, plan, data["bbox"], data["polygon"])
    return redirect("downloads:job", job_id=job.pk)


def own_export_job(user: object, job_id: int) -> ProcessingJob:
    """The user's own export job; anyone else's is a 404 (no leak of its existence)."""
    job = ProcessingJob.objects.filter(pk=job_id, kind=ProcessingJob.Kind.EXPORT, user=user).first()
    if job is None:
        raise Http404("No such export")
    return job


def job_summary(job: ProcessingJob) -> dict:
    ready = jobs.result_path(job) is not None
    expires = jobs.expires_at(job)
    return {
        "id": job.pk,
        "state": job.state,
        "progress": round(job.progress, 3),
        "message": job.message,
        "point_count": job.parameters.get("point_count"),
        "points_written": job.parameters.get("points_written"),
        "expires_at": expires.isoformat() if expires else None,
        "expired": jobs.is_expired(job),
        "file": reverse("downloads:job-file", args=[job.pk]) if ready else None,
    }


@login_required
def job_page(request: HttpRequest, job_id: int) -> HttpResponse:
    job = own_export_job(request.user, job_id)
    slug = job.parameters.get("dataset", "")
    named = Dataset.objects.filter(slug=slug).values_list("name", flat=True).first()
    context = {
        "job": job,
        "summary": job_summary(job),
        "expires": jobs.expires_at(job),
        "dataset_name": named or slug,
    }
    return render(request, "downloads/job.html", context)


# /downloads/jobs/<id>/file is a site URL, not under /api/: one that names no job (not a
# number) gets the site's HTML 404 page; a job that is not the user's or not ready, JSON.
JOB_FILE_RESPONSES = {
    **FILE_RESPONSES,
    **error_responses(410),
    (404, "application/json"): error_responses(404)[404],
    (404, "text/html"): OpenApiResponse(OpenApiTypes.STR, "No such URL"),
}


@extend_schema(responses=JOB_FILE_RESPONSES)
@api_view(["GET"])
@authentication_classes(API_AUTHENTICATION)
def job_file(request: Request, job_id: int) -> HttpResponse:
    """The finished export's file (session or API token)."""
    if not request.user.is_authenticated:
        return Response({"detail": "Sign in to download data."}, status=401)
    job = own_export_job(request.user, job_id)
    if jobs.is_expired(job):
        return Response(
            {"detail": "This export has expired: request the download again."}, status=410
        )
    path = jobs.result_path(job)
    if path is None or not path.exists():
        raise Http404("The export is not ready")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)


@extend_schema(
    request=OpenApiTypes.OBJECT,
    responses={200: OpenApiTypes.OBJECT, **error_responses(403, 404)},
)
@api_view(["POST"])
@authentication_classes(API_AUTHENTICATION)
def api_estimate(request: Request, slug: str) -> Response:
    """How many points a download of this area holds (masked points out) and its estimated size
    per format; body {"bbox": "MINLON,MINLAT,MAXLON,MAXLAT"} or {"polygon": "WKT"}."""
    body = request.data if hasattr(request.data, "get") else {}
    fields = {name: body.get(name) or None for name in ("bbox", "polygon")}
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            return Response({"detail": f"{name} must be text.", "field": name}, status=400)
    filters = {name: body.get(name) for name in service.FILTERS}
    try:
        estimate = service.estimate_download(request.user, slug, **fields, filters=filters)
    except service.DownloadRefused as refusal:
        return Response(refusal.body(), status=refusal.status)
    return Response(estimate.to_dict())


@extend_schema(responses={200: OpenApiTypes.OBJECT, **error_responses(404)})
@api_view(["GET"])
@authentication_classes(API_AUTHENTICATION)
def api_job(request: Request, job_id: int) -> Response:
    if not request.user.is_authenticated:
        return Response({"detail": "Sign in to download data."}, status=401)
    return Response(job_summary(own_export_job(request.user, job_id)))


DOWNLOAD_PARAMETERS = [
    OpenApiParameter("output", str, enum=list(Format.ALL), description="File format"),
    OpenApiParameter("bbox", str, description="MINLON,MINLAT,MAXLON,MAXLAT, degrees"),
    OpenApiParameter("polygon", str, description="WKT polygon, WGS84"),
    OpenApiParameter("velocity_min", float, description="only points with velocity ≥, mm/yr"),
    OpenApiParameter("velocity_max", float, description="only points with velocity ≤, mm/yr"),
    OpenApiParameter("abs_velocity_min", float, description="only points with |velocity| ≥"),
    OpenApiParameter("coherence_min", float, description="only points with coherence ≥"),
]


@extend_schema(
    parameters=DOWNLOAD_PARAMETERS,
    responses={**FILE_RESPONSES, 202: OpenApiTypes.OBJECT, **error_responses(403, 404, 429)},
)
@api_view(["GET"])
@authentication_classes(API_AUTHENTICATION)
def api_download(request: Request, slug: str) -> HttpResponse:
    """Scripted downloads: ?output=csv|gpkg|geotiff (DRF reserves `format`), and bbox=… or
    polygon=… (WKT, degrees). 200 streams the file; 202 gives an export job to poll."""
    parameters = request.query_params
    try:
        plan = service.plan_download(
            request.user,
            slug,
            parameters.get("output", Format.CSV),
            parameters.get("bbox"),
            parameters.get("polygon"),
            {name: parameters.get(name) for name in service.FILTERS},
        )
    except service.DownloadRefused as refusal:
        return Response(refusal.body(), status=refusal.status)
    if plan.immediate:
        return deliver(request.user, plan)
    job = jobs.create_job(
        request.user, plan, parameters.get("bbox") or "", parameters.get("polygon") or ""
    )
    url = reverse("downloads:api-job", args=[job.pk])
    return Response({"job": job.pk, "status_url": url, "state": job.state}, status=202)
