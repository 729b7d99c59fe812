"""Fanned-out jobs: a large job split into chunks (id ranges) that any number of workers run.

1. `start` (in the job's own run, after its claim) asks the kind's planner (CHUNKED) for
   chunks; None keeps the job in one process. Otherwise it stores the chunks and sends them
   to the workers as one Celery group.
2. `run_chunk` claims a chunk by conditional UPDATE, computes it while a heartbeat thread
   keeps both the chunk and its job alive, and stores its output on the chunk row (a rerun
   writes the same bytes: chunks read only what no chunk writes). The job's progress is the
   sum of its done chunks.
3. The chunk that finds every chunk done sends `finish`: one run (conditional UPDATE of
   `finishing_at`) writes all outputs into the dataset in one transaction, as the
   single-process run does, so a failed job leaves no half product and the result is the
   single-process one to the last bit.

A chunk whose pool process dies (WorkerLostError, in tasks.py) runs again at once; one whose
whole worker is lost falls silent and `reap` (beat, each starting worker, each finishing chunk)
sends it again. After JOB_CHUNK_ATTEMPTS cut-short runs, or at the first exception, the job
fails and says which chunk and why. Chunks are not acks_late-requeued by Celery
(task_reject_on_worker_lost) because the attempt count must bound a chunk that kills workers.
"""

from __future__ import annotations

import datetime
import io
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.module_loading import import_string

from groundmotion.models import ProcessingJob
from groundmotion.storage import copy_out
from processing import runs
from processing.models import FanOut, JobChunk

State = ProcessingJob.State
Chunk = JobChunk.State
# Share of the job's progress bar taken by the chunks; the finishing write takes the rest.
COMPUTE_SHARE = 0.8
# Each kind's chunk functions, imported when first needed (downloads depends on processing).
CHUNKED_PATHS = {
    ProcessingJob.Kind.FIT: "processing.chunked.FIT",
    ProcessingJob.Kind.REFERENCE: "processing.chunked.REFERENCE",
    ProcessingJob.Kind.CALIBRATE: "processing.chunked_products.CALIBRATE",
    ProcessingJob.Kind.DECOMPOSE: "processing.chunked_products.DECOMPOSE",
    ProcessingJob.Kind.EXPORT: "downloads.jobs.CHUNKED_EXPORT",
}


@dataclass(frozen=True)
class Plan:
    """What a planner returns: id ranges, their point counts, and what every chunk shares."""

    parts: list[copy_out.Part]
    points: list[int]
    shared: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Finished:
    message: str
    fields: dict = field(default_factory=dict)  # written on the job row (e.g. output)


@dataclass(frozen=True)
class Chunked:
    """A kind's three steps. plan(job) -> Plan | None (None: run in one process);
    compute(job, fanout, chunk) -> output bytes; finish(job, fanout, outputs, progress)."""

    plan: Callable[[ProcessingJob], Plan | None]
    compute: Callable[[ProcessingJob, FanOut, JobChunk], bytes]
    finish: Callable[[ProcessingJob, FanOut, Iterator[bytes], runs.Progress], Finished]
    failed: Callable[[ProcessingJob], None] = lambda job: None  # clean up after a failure
    unit: str = "ids"  # what a chunk's first and last count (cell rows for decompose)


def chunked(kind: str) -> Chunked | None:
    path = CHUNKED_PATHS.get(kind)
    return import_string(path) if path else None


def job_settings() -> dict:
    return settings.GROUNDMOTION


def wants_fanout(points: int) -> bool:
    threshold = job_settings()["JOB_FANOUT_POINTS"]
    return threshold > 0 and points >= threshold


def split(ids: np.ndarray, size: int) -> tuple[list[copy_out.Part], list[int]]:
    """Sorted ids cut into ranges of about `size` points, and the points in each."""
    parts = copy_out.split_parts(ids, max(1, math.ceil(len(ids) / max(size, 1))))
    counts = [
        int(np.searchsorted(ids, p.last, "right") - np.searchsorted(ids, p.first)) for p in parts
    ]
    return parts, counts


def pack(arrays: dict[str, np.ndarray]) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def unpack(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def read_chunk(
    dataset_id: int, chunk: JobChunk, dates: int, columns: dict[str, str] | None = None
) -> dict[str, np.ndarray]:
    """A chunk's ids, columns and series (binary COPY, as the single-process jobs read them)."""
    part = copy_out.Part(chunk.first_id, chunk.last_id, chunk.exclusive)
    return copy_out.read_range(dataset_id, part, columns or {}, dates)


def _send_chunks(chunk_ids: list[int]) -> None:
    from processing.tasks import send_chunks

    send_chunks(chunk_ids)


def _send_finish(job_id: int) -> None:
    from processing.tasks import send_finish

    send_finish(job_id)


def start(job: ProcessingJob, progress: runs.Progress) -> bool:
    """Fan the claimed job out when its kind and size call for it; False: run it in one."""
    kind = chunked(job.kind)
    plan = kind.plan(job) if kind else None
    if plan is None:
        return False
    fanout, chunks = create_chunks(job, plan)
    progress(0.0, f"split into {len(chunks)} chunks of {fanout.total_points:,} points")
    if chunks:
        _send_chunks([chunk.pk for chunk in chunks])
    else:
        _send_finish(job.pk)  # nothing to compute (the points went meanwhile)
    return True


def create_chunks(job: ProcessingJob, plan: Plan) -> tuple[FanOut, list[JobChunk]]:
    now = timezone.now()
    with transaction.atomic():
        fanout = FanOut.objects.create(job=job, shared=plan.shared, total_points=sum(plan.points))
        chunks = JobChunk.objects.bulk_create(
            JobChunk(
                fanout=fanout,
                number=number,
                first_id=part.first,
                last_id=part.last,
                exclusive=part.exclusive,
                points=points,
                sent_at=now,
            )
            for number, (part, points) in enumerate(zip(plan.parts, plan.points, strict=True))
        )
    return fanout, chunks


def describe(chunk: JobChunk) -> str:
    count = JobChunk.objects.filter(fanout_id=chunk.fanout_id).count()
    kind = chunked(ProcessingJob.objects.values_list("kind", flat=True).get(fanout=chunk.fanout_id))
    unit = kind.unit if kind else "ids"
    return f"chunk {chunk.number + 1} of {count} ({unit} {chunk.first_id}-{chunk.last_id})"


def fail_job(job_id: int, message: str) -> bool:
    """End the job failed, drop its chunks' outputs, let the kind clean up."""
    failed = runs.finish(job_id, State.FAILED, message)
    JobChunk.objects.filter(fanout__job_id=job_id).update(output=None)
    kind = chunked(ProcessingJob.objects.get(pk=job_id).kind)
    if failed and kind:
        kind.failed(ProcessingJob.objects.get(pk=job_id))
    return failed


class ChunkHeartbeat(threading.Thread):
    """The chunk's and its job's heartbeat every JOB_HEARTBEAT_S, until stopped."""

    def __init__(self, chunk_id: int, job_id: int) -> None:
        super().__init__(name=f"chunk-{chunk_id}-heartbeat", daemon=True)
        self.chunk_id, self.job_id = chunk_id, job_id
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(job_settings()["JOB_HEARTBEAT_S"]):
                now = timezone.now()
                JobChunk.objects.filter(pk=self.chunk_id, state=Chunk.RUNNING).update(
                    heartbeat_at=now
                )
                ProcessingJob.objects.filter(pk=self.job_id, state=State.RUNNING).update(
                    heartbeat_at=now
                )
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> ChunkHeartbeat:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.join()


def claim_chunk(chunk_id: int, node: str) -> int | None:
    """Move a queued chunk of a running job to running; its attempt number, or None."""
    claimed = JobChunk.objects.filter(
        pk=chunk_id, state=Chunk.QUEUED, fanout__job__state=State.RUNNING
    ).update(
        state=Chunk.RUNNING, attempts=F("attempts") + 1, worker=node, heartbeat_at=timezone.now()
    )
    if not claimed:
        return None
    return JobChunk.objects.values_list("attempts", flat=True).get(pk=chunk_id)


def compute_chunk(kind: Chunked, job: ProcessingJob, chunk: JobChunk) -> bytes:
    """One chunk's output (a named step, so a fault test can stop a worker inside it)."""
    return kind.compute(job, chunk.fanout, chunk)


def run_chunk(chunk_id: int, node: str) -> str:
    """Run one chunk on this worker; returns what became of it."""
    attempt = claim_chunk(chunk_id, node)
    if attempt is None:
        return "skipped"
    chunk = JobChunk.objects.select_related("fanout__job").defer("output").get(pk=chunk_id)
    job = chunk.fanout.job
    kind = chunked(job.kind)
    with ChunkHeartbeat(chunk_id, job.pk):
        try:
            output = compute_chunk(kind, job, chunk)
        except Exception as error:  # the job fails at once, naming the chunk and the reason
            fail_job(job.pk, f"{describe(chunk)} failed: {type(error).__name__}: {error}")
            return "failed"
    done = JobChunk.objects.filter(pk=chunk_id, state=Chunk.RUNNING, attempts=attempt).update(
        state=Chunk.DONE, output=output, heartbeat_at=timezone.now()
    )
    if not done:
        return "superseded"  # declared lost meanwhile and run again elsewhere
    report_progress(chunk.fanout)
    reap_chunks(chunk.fanout_id)
    if not JobChunk.objects.filter(fanout_id=chunk.fanout_id).exclude(state=Chunk.DONE).exists():
        _send_finish(job.pk)
    return "done"


def report_progress(fanout: FanOut) -> None:
    """The job's progress: the points of its done chunks, of all its points."""
    chunks = JobChunk.objects.filter(fanout=fanout)
    done = chunks.filter(state=Chunk.DONE).aggregate(points=Sum("points"))["points"] or 0
    count, finished = chunks.count(), chunks.filter(state=Chunk.DONE).count()
    fraction = COMPUTE_SHARE * done / max(fanout.total_points, 1)
    ProcessingJob.objects.filter(pk=fanout.job_id, state=State.RUNNING).update(
        progress=Greatest(F("progress"), fraction),
        message=f"{finished} of {count} chunks done ({done:,} of {fanout.total_points:,} points)",
        heartbeat_at=timezone.now(),
    )


def chunk_lost(chunk_id: int, reason: str) -> None:
    """The run of a chunk ended without a result (its worker died): run it again, or fail
    the job once the chunk has used up its attempts."""
    chunk = JobChunk.objects.defer("output").filter(pk=chunk_id, state=Chunk.RUNNING).first()
    if chunk is None:
        return
    if chunk.attempts >= job_settings()["JOB_CHUNK_ATTEMPTS"]:
        fail_job(
            chunk.fanout.job_id,
            f"{describe(chunk)} lost its worker {chunk.attempts} time"
            f"{'s' if chunk.attempts != 1 else ''}, the last: {reason}",
        )
        return
    again = JobChunk.objects.filter(
        pk=chunk_id, state=Chunk.RUNNING, attempts=chunk.attempts
    ).update(state=Chunk.QUEUED, lost=reason[:2000], sent_at=timezone.now())
    if again:
        _send_chunks([chunk_id])


def reap_chunks(fanout_id: int | None = None) -> None:
    """Chunks of running jobs whose worker fell silent run again; chunks waiting longer than
    JOB_LOST_AFTER_S are sent again (the worker that held the message may be gone: a
    duplicate is skipped by the claim)."""
    cutoff = timezone.now() - datetime.timedelta(seconds=job_settings()["JOB_LOST_AFTER_S"])
    live = JobChunk.objects.filter(fanout__job__state=State.RUNNING).defer("output")
    if fanout_id is not None:
        live = live.filter(fanout_id=fanout_id)
    for chunk in live.filter(state=Chunk.RUNNING, heartbeat_at__lt=cutoff):
        since = chunk.heartbeat_at.isoformat(timespec="seconds")
        chunk_lost(chunk.pk, f"no heartbeat from {chunk.worker or 'its worker'} since {since}")
    waiting = list(live.filter(state=Chunk.QUEUED, sent_at__lt=cutoff).values_list("pk", flat=True))
    if waiting:
        JobChunk.objects.filter(pk__in=waiting).update(sent_at=timezone.now())
        _send_chunks(waiting)


def reap() -> list[int]:
    """The reaper of beat and of each starting worker: lost chunks run again, a fanned-out
    job whose chunks are waiting for a worker stays alive, every other silent job fails."""
    reap_chunks()
    waiting = FanOut.objects.filter(
        job__state=State.RUNNING,
        finishing_at__isnull=True,
        chunks__state__in=[Chunk.QUEUED, Chunk.RUNNING],
    ).values("job_id")
    ProcessingJob.objects.filter(pk__in=waiting).update(heartbeat_at=timezone.now())
    for fanout in FanOut.objects.filter(job__state=State.RUNNING, finishing_at__isnull=True):
        if not fanout.chunks.exclude(state=Chunk.DONE).exists():
            _send_finish(fanout.job_id)  # the message of the last chunk's finish was lost
    return runs.reap_lost_jobs()


def outputs(fanout: FanOut) -> Iterator[bytes]:
    """The chunks' outputs in id order, one in memory at a time."""
    for chunk_id in fanout.chunks.order_by("number").values_list("pk", flat=True):
        yield bytes(JobChunk.objects.values_list("output", flat=True).get(pk=chunk_id))


def finish(job_id: int) -> str:
    """Write every chunk's output into the product, once; the job's final state."""
    claimed = FanOut.objects.filter(
        job_id=job_id, finishing_at__isnull=True, job__state=State.RUNNING
    ).update(finishing_at=timezone.now())
    if not claimed:
        return "skipped"
    fanout = FanOut.objects.select_related("job").get(job_id=job_id)
    job = fanout.job
    kind = chunked(job.kind)
    with runs.running(job_id) as progress:
        try:
            progress(COMPUTE_SHARE, "writing the chunks' results")
            finished = kind.finish(job, fanout, outputs(fanout), progress)
        except Exception as error:  # Any failure must land on the job row.
            fail_job(job_id, f"{type(error).__name__}: {error}")
            return State.FAILED
    runs.finish(job_id, State.SUCCEEDED, finished.message, **finished.fields)
    JobChunk.objects.filter(fanout=fanout).update(output=None)
    return State.SUCCEEDED


def finishing_progress(progress: runs.Progress, done: int, total: int, message: str) -> None:
    """Progress of the finishing write, over the share the chunks leave."""
    progress(COMPUTE_SHARE + (1 - COMPUTE_SHARE) * done / max(total, 1), message)
