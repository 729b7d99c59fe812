"""The jobs API: curators start processing jobs and follow their progress.

POST /api/jobs/ {"kind": "fit", "parameters": {...}} -> 201 and the job, queued on commit.
GET /api/jobs/ -> the latest jobs; GET /api/jobs/<id>/ -> one job.
Anonymous users get 403, signed-in users who are not curators 403 (groundmotion/access.py).
"""

from __future__ import annotations

from typing import TypedDict

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from groundmotion import access
from groundmotion.models import ProcessingJob
from processing.jobs import REQUIRED
from processing.tasks import run_job

JOB_LIST_LIMIT = 100


class JobDict(TypedDict):
    id: int
    kind: str
    parameters: dict
    state: str
    progress: float
    message: str
    output: str | None
    created_at: str
    finished_at: str | None


def job_dict(job: ProcessingJob) -> JobDict:
    return {
        "id": job.pk,
        "kind": job.kind,
        "parameters": job.parameters,
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
        "output": job.output.slug if job.output else None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def validation_error(data: object) -> str:
    if not isinstance(data, dict):
        return "send a JSON object"
    kind, parameters = data.get("kind"), data.get("parameters", {})
    if kind not in REQUIRED:
        return f"kind must be one of {sorted(REQUIRED)}"
    if not isinstance(parameters, dict):
        return "parameters must be an object"
    missing = [name for name in REQUIRED[kind] if name not in parameters]
    return f"missing parameters: {', '.join(missing)}" if missing else ""


@extend_schema(methods=["GET"], operation_id="jobs_list", responses=OpenApiTypes.OBJECT)
@extend_schema(
    methods=["POST"],
    operation_id="jobs_create",
    request=OpenApiTypes.OBJECT,
    responses=OpenApiTypes.OBJECT,
)
@api_view(["GET", "POST"])
def jobs(request: Request) -> Response:
    if not access.is_curator(request.user):
        return Response({"error": "curators only"}, status=403)
    if request.method == "GET":
        latest = ProcessingJob.objects.select_related("output")[:JOB_LIST_LIMIT]
        return Response({"jobs": [job_dict(job) for job in latest]})
    error = validation_error(request.data)
    if error:
        return Response({"error": error}, status=400)
    job = ProcessingJob.objects.create(
        kind=request.data["kind"],
        parameters=request.data.get("parameters", {}),
        user=request.user,
    )
    transaction.on_commit(lambda: run_job.delay(job.pk))
    return Response(job_dict(job), status=201)


@extend_schema(operation_id="job_detail", responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def job_detail(request: Request, job_id: int) -> Response:
    if not access.is_curator(request.user):
        return Response({"error": "curators only"}, status=403)
    job = get_object_or_404(ProcessingJob.objects.select_related("output"), pk=job_id)
    return Response(job_dict(job))
