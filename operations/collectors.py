"""Metrics read from the database at scrape time: jobs, datasets, points, ingest.

Jobs run in Celery workers and loads in commands, processes /metrics never sees, so their
figures come from the rows they leave (ProcessingJob, Dataset) rather than from counters kept
in those processes. Labels are kinds, states, levels and visibilities, never a dataset's slug:
a restricted dataset's name stays out of the metrics, and the label sets stay small.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from groundmotion.models import Dataset, ProcessingJob

logger = logging.getLogger(__name__)

# Seconds; a fit of 10^6 points takes minutes, exports of national products hours.
JOB_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600)
INGEST_WINDOW = timedelta(hours=1)
FINISHED = (ProcessingJob.State.SUCCEEDED, ProcessingJob.State.FAILED)


class DatabaseCollector:
    """A prometheus-client collector; `groundmotion_database_scrape_ok` is 0 when the reads
    failed (the other figures are then absent, the process metrics still served)."""

    def collect(self) -> Iterator[Metric]:
        try:
            metrics = [*job_metrics(), *dataset_metrics()]
        except Exception:
            logger.exception("metrics: the database could not be read")
            metrics = []
        ok = GaugeMetricFamily(
            "groundmotion_database_scrape_ok", "1 when the database figures below were read"
        )
        ok.add_metric([], 1 if metrics else 0)
        yield ok
        yield from metrics


def job_metrics() -> list[Metric]:
    jobs = GaugeMetricFamily(
        "groundmotion_jobs", "Processing jobs by kind and state", labels=["kind", "state"]
    )
    for row in ProcessingJob.objects.order_by().values("kind", "state").annotate(n=Count("id")):
        jobs.add_metric([row["kind"], row["state"]], row["n"])
    oldest = ProcessingJob.objects.filter(state=ProcessingJob.State.QUEUED).aggregate(
        at=Min("created_at")
    )["at"]
    waiting = GaugeMetricFamily(
        "groundmotion_job_queue_oldest_seconds", "Age of the oldest queued job, 0 with none"
    )
    waiting.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
    return [jobs, waiting, job_durations()]


def job_durations() -> HistogramMetricFamily:
    """Run time (started to finished) of every finished job, by kind and outcome: the
    `_count` of state="failed" is the number of failures."""
    run_time = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    buckets = {
        f"le_{index}": Count("id", filter=Q(run_time__lte=timedelta(seconds=bound)))
        for index, bound in enumerate(JOB_BUCKETS)
    }
    rows = (
        ProcessingJob.objects.filter(
            state__in=FINISHED, started_at__isnull=False, finished_at__isnull=False
        )
        .annotate(run_time=run_time)
        .order_by()
        .values("kind", "state")
        .annotate(total=Count("id"), seconds=Sum("run_time"), **buckets)
    )
    family = HistogramMetricFamily(
        "groundmotion_job_duration_seconds",
        "Run time of finished jobs by kind and state",
        labels=["kind", "state"],
    )
    for row in rows:
        counts = [(str(float(b)), row[f"le_{i}"]) for i, b in enumerate(JOB_BUCKETS)]
        family.add_metric(
            [row["kind"], row["state"]],
            [*counts, ("+Inf", row["total"])],
            sum_value=row["seconds"].total_seconds() if row["seconds"] else 0.0,
        )
    return family


def dataset_metrics() -> list[Metric]:
    datasets = GaugeMetricFamily(
        "groundmotion_datasets",
        "Datasets by level, status and visibility",
        labels=["level", "status", "visibility"],
    )
    points = GaugeMetricFamily(
        "groundmotion_points",
        "Measurement points stored, by level, status and visibility",
        labels=["level", "status", "visibility"],
    )
    rows = (
        Dataset.objects.order_by()
        .values("level", "status", "visibility")
        .annotate(n=Count("id"), points=Sum("point_count"))
    )
    for row in rows:
        labels = [row["level"], row["status"], row["visibility"]]
        datasets.add_metric(labels, row["n"])
        points.add_metric(labels, row["points"] or 0)
    return [datasets, points, *ingest_metrics()]


def ingest_metrics() -> list[Metric]:
    """Points of the datasets created within the last hour (loads record no timings, so
    this is the hour's ingest rate), and when the newest dataset was created."""
    since = timezone.now() - INGEST_WINDOW
    recent = Dataset.objects.aggregate(
        points=Sum("point_count", filter=Q(created_at__gte=since)), newest=Max("created_at")
    )
    hour = GaugeMetricFamily(
        "groundmotion_ingested_points_last_hour",
        "Points of the datasets created within the last hour",
    )
    hour.add_metric([], recent["points"] or 0)
    newest = GaugeMetricFamily(
        "groundmotion_dataset_newest_created_timestamp_seconds",
        "When the newest dataset was created (Unix time), 0 with none",
    )
    newest.add_metric([], recent["newest"].timestamp() if recent["newest"] else 0.0)
    return [hour, newest]
