"""The chunks of a fanned-out job (processing/fanout.py): one row per id range, run on any worker.

A chunk moves queued -> running -> done by conditional UPDATE, like its job; `attempts` counts
the runs a lost worker cut short. `output` holds what the chunk computed (numpy arrays in
.npz bytes) until the job's finishing step writes it into the dataset in one transaction.
"""

from __future__ import annotations

from django.db import models

from groundmotion.models import ProcessingJob


class FanOut(models.Model):
    """A job split into chunks: what every chunk shares, and who finishes it."""

    job = models.OneToOneField(ProcessingJob, on_delete=models.CASCADE, related_name="fanout")
    # What the chunks share (a reference series, the export's plan), as JSON.
    shared = models.JSONField(default=dict, blank=True)
    total_points = models.BigIntegerField()
    # Set once, by the run that writes the chunks' outputs (a conditional UPDATE).
    finishing_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"fan-out of job {self.job_id}"


class JobChunk(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    fanout = models.ForeignKey(FanOut, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    # Inclusive id range; `exclusive` when every id in it is one of the dataset's points.
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    exclusive = models.BooleanField(default=False)
    points = models.BigIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    # The Celery node of the current (or last) run, and when it last said it was alive.
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    lost = models.TextField(blank=True)  # why the last cut-short run ended
    output = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["fanout", "number"]
        constraints = [
            models.UniqueConstraint(fields=["fanout", "number"], name="chunk_number_unique")
        ]

    def __str__(self) -> str:
        return f"chunk {self.number} of job {self.fanout.job_id} ({self.state})"
