"""The data model. Units: mm and mm/yr, metres for heights, degrees for angles, WGS84 points.

Sign convention: positive line-of-sight (LOS) displacement is towards the satellite; east is
positive eastwards and up positive upwards.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models import F

from groundmotion.storage import series_codec

# Extra per-point values (PointExtra) are little-endian float64: eastings need the precision.
EXTRA_DTYPE = np.dtype("<f8")


class RealField(models.FloatField):
    """A 4-byte float: points are scanned by the million, so every byte of row width counts."""

    def db_type(self, connection: object) -> str:
        return "real"


class Level(models.TextChoices):
    L2A = "l2a", "L2a basic (LOS)"
    L2B = "l2b", "L2b calibrated (LOS)"
    L3 = "l3", "L3 ortho (grid)"


class PassDirection(models.TextChoices):
    ASCENDING = "ascending", "Ascending"
    DESCENDING = "descending", "Descending"
    NONE = "", "None (L3)"


class Component(models.TextChoices):
    LOS = "los", "Line of sight"
    EAST_WEST = "east-west", "East-west"
    UP_DOWN = "up-down", "Up-down"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    REDUCED = "reduced", "Public at reduced resolution"
    REGISTERED = "registered", "Registered users"
    RESTRICTED = "restricted", "Restricted to groups"


class DownloadPolicy(models.TextChoices):
    """Who may download a dataset's points (access.can_download applies it)."""

    NOBODY = "nobody", "Nobody (curators only)"
    VIEWERS = "viewers", "Every signed-in user who sees its points"
    GROUPS = "groups", "Members of the download groups"


class DatasetDict(TypedDict):
    slug: str
    name: str
    area: str
    level: str
    pass_direction: str
    component: str
    relative_orbit: int | None
    first_date: str | None
    last_date: str | None
    date_count: int
    point_count: int
    visibility: str
    status: str
    version: int
    extent: list[float] | None
    attribution: str


class Dataset(models.Model):
    """One product of one track (L2a, L2b) or one component on a grid (L3)."""

    # A 4-byte key: every point row carries it.
    id = models.AutoField(primary_key=True)
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    # Where the product lies, for grouping in the viewer ("Dax"); derived products inherit it.
    area = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    level = models.CharField(max_length=3, choices=Level.choices, default=Level.L2A)
    pass_direction = models.CharField(
        max_length=10, choices=PassDirection.choices, default=PassDirection.NONE, blank=True
    )
    component = models.CharField(max_length=10, choices=Component.choices, default=Component.LOS)
    sensor = models.CharField(max_length=50, default="Sentinel-1")
    relative_orbit = models.PositiveSmallIntegerField(null=True, blank=True)
    wavelength_m = models.FloatField(default=0.055465763, help_text="Radar wavelength, metres")
    grid_size_m = models.PositiveIntegerField(null=True, blank=True, help_text="L3 cell size")
    acquisition_dates = ArrayField(models.DateField(), default=list, blank=True)
    reference_date = models.DateField(null=True, blank=True)
    reference_pid = models.CharField(max_length=32, blank=True)
    reference_area = models.PolygonField(null=True, blank=True)
    provenance = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="Product header (XML)")
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every change")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    allowed_groups = models.ManyToManyField(Group, blank=True, related_name="datasets")
    download_policy = models.CharField(
        max_length=10, choices=DownloadPolicy.choices, default=DownloadPolicy.VIEWERS
    )
    download_groups = models.ManyToManyField(
        Group, blank=True, related_name="downloadable_datasets"
    )
    licence = models.CharField(max_length=200, blank=True)
    attribution = models.CharField(max_length=300, blank=True)
    extent = models.PolygonField(null=True, blank=True)
    point_count = models.PositiveIntegerField(default=0)
    # Names of the per-point extra values kept in PointExtra (e.g. easting, northing, line).
    extra_columns = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        indexes = [
            # Used in access.visible_datasets: the published datasets anyone may list.
            models.Index(fields=["status", "visibility"], name="dataset_status_visibility"),
        ]

    def __str__(self) -> str:
        return self.slug

    def bump_version(self) -> None:
        """Invalidate caches keyed on the version (tiles, ETags)."""
        Dataset.objects.filter(pk=self.pk).update(version=F("version") + 1)
        self.refresh_from_db(fields=["version"])

    def to_dict(self) -> DatasetDict:
        dates = self.acquisition_dates
        return {
            "slug": self.slug,
            "name": self.name,
            "area": self.area,
            "level": self.level,
            "pass_direction": self.pass_direction,
            "component": self.component,
            "relative_orbit": self.relative_orbit,
            "first_date": dates[0].isoformat() if dates else None,
            "last_date": dates[-1].isoformat() if dates else None,
            "date_count": len(dates),
            "point_count": self.point_count,
            "visibility": self.visibility,
            "status": self.status,
            "version": self.version,
            "extent": list(self.extent.extent) if self.extent else None,
            "attribution": self.attribution,
        }


class MeasurementPoint(models.Model):
    """One measurement point (or L3 grid cell). Kept narrow: spatial queries scan it.

    Its id carries its dataset: dataset_id * 2^40 + n (storage/point_ids.py, migration 0012;
    a CHECK holds it, a trigger gives rows written one by one such an id), so that lookups by
    id prune to the dataset's partition.
    """

    # No index of its own: the (dataset, pid) unique index serves dataset lookups.
    # No database foreign key: its deferred per-row check at commit cost ~5 us per point (12%
    # of a 200k-point load, bench/README.md). Points are written by copy_in.copy_points into a
    # dataset that the same transaction created or locked (ingest.loader.prepare_dataset's
    # select_for_update), so a concurrent delete waits for the load; Django's CASCADE still
    # deletes the points (and their series and extras) with their dataset.
    dataset = models.ForeignKey(
        Dataset,
        on_delete=models.CASCADE,
        related_name="points",
        db_index=False,
        db_constraint=False,
    )
    pid = models.CharField(max_length=32)
    geom = models.PointField(srid=4326)
    height = RealField(null=True, help_text="Orthometric height, m")
    velocity = RealField(null=True, help_text="Mean velocity, mm/yr")
    velocity_std = RealField(null=True, help_text="mm/yr")
    acceleration = RealField(null=True, help_text="mm/yr²")
    acceleration_std = RealField(null=True, help_text="mm/yr²")
    seasonality = RealField(null=True, help_text="Annual amplitude, mm")
    seasonality_std = RealField(null=True, help_text="mm")
    temporal_coherence = RealField(null=True)
    rmse = RealField(null=True, help_text="RMS of residuals of the cubic + seasonal fit, mm")
    amplitude_dispersion = RealField(null=True)
    incidence_angle = RealField(null=True, help_text="degrees")
    track_angle = RealField(null=True, help_text="degrees")
    los_east = RealField(null=True, help_text="LOS unit vector, ground towards satellite")
    los_north = RealField(null=True)
    los_up = RealField(null=True)
    mp_type = RealField(null=True, help_text="0 for PS, else DS effective area (m²)")

    class Meta:
        constraints = [
            # Used by ingest upserts and by every per-dataset scan (dataset_id is its prefix).
            models.UniqueConstraint(fields=["dataset", "pid"], name="point_dataset_pid"),
        ]
        # The GiST index on geom (created by PointField) serves bbox and tile queries.

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.pid}"


class PointSeries(models.Model):
    """The displacement series of one point (mm, dataset date order), encoded by series_codec.

    A table of its own so that bbox scans over points never read series pages; at 200 dates a
    row (~0.4 KB) stays inline under the 2 KB TOAST threshold. Partitioned by point id range,
    one dataset's range a partition (storage/partitions.py), as PointExtra is.
    """

    # No database foreign key, for the reason given on PointExtra.point: its deferred check
    # cost ~4 us per point at commit (14% of a 1M-point load). Rows are written only by
    # copy_in.copy_series with ids of points COPYed in the same transaction (ingest) or read
    # from the points table (processing); Django's CASCADE still deletes them with their
    # points and datasets, and ingest.loader.delete_points deletes them in one statement.
    point = models.OneToOneField(
        MeasurementPoint,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="series",
        db_constraint=False,
    )
    displacements = models.BinaryField()

    def values(self) -> np.ndarray:
        """The series as float32 mm, NaN for missing dates."""
        return series_codec.decode(self.displacements)


class PointExtra(models.Model):
    """Source columns with no MeasurementPoint field (easting, northing, line, pixel, ...).

    Float64 little-endian bytes, one value per name in the dataset's extra_columns: kept so
    that exports write the product back with the values it came with, without widening the
    points table that spatial queries scan.
    """

    # No database foreign key: its deferred per-row check at commit costs ~4 us per point
    # (measured on the series table: 14% of a 1M-point load). Rows are written only by
    # copy_in.copy_extras, with ids just reserved for the points COPYed in the same transaction;
    # Django's CASCADE still applies and ingest.loader.delete_points deletes them explicitly.
    point = models.OneToOneField(
        MeasurementPoint,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="extra",
        db_constraint=False,
    )
    values = models.BinaryField()

    def as_dict(self, names: list[str]) -> dict[str, float]:
        return dict(
            zip(names, np.frombuffer(bytes(self.values), dtype=EXTRA_DTYPE).tolist(), strict=True)
        )


class GNSSNetwork(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    reference_frame = models.CharField(max_length=50, blank=True, help_text="e.g. ETRF2000")
    epoch = models.FloatField(null=True, blank=True, help_text="Decimal year")
    source = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.slug


class GNSSStation(models.Model):
    network = models.ForeignKey(GNSSNetwork, on_delete=models.CASCADE, related_name="stations")
    code = models.CharField(max_length=20)
    geom = models.PointField(srid=4326)
    height = models.FloatField(null=True, blank=True, help_text="m")
    velocity_east = models.FloatField(help_text="mm/yr")
    velocity_north = models.FloatField(help_text="mm/yr")
    velocity_up = models.FloatField(help_text="mm/yr")
    velocity_east_std = models.FloatField(null=True, blank=True)
    velocity_north_std = models.FloatField(null=True, blank=True)
    velocity_up_std = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "code"], name="station_network_code"),
        ]

    def __str__(self) -> str:
        return f"{self.network.slug}:{self.code}"


class GNSSSeries(models.Model):
    """A GNSS station's daily position series: east, north, up in mm relative to the station's
    first epoch (or its reference position), one value per date; sigmas mm where the file has
    them. Arrays are in date order; the dates are the station's own, not a dataset's."""

    station = models.OneToOneField(GNSSStation, on_delete=models.CASCADE, related_name="series")
    dates = ArrayField(models.DateField())
    east = ArrayField(models.FloatField(), help_text="mm")
    north = ArrayField(models.FloatField(), help_text="mm")
    up = ArrayField(models.FloatField(), help_text="mm")
    sigma_east = ArrayField(models.FloatField(), null=True, blank=True)
    sigma_north = ArrayField(models.FloatField(), null=True, blank=True)
    sigma_up = ArrayField(models.FloatField(), null=True, blank=True)
    source = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"series of {self.station}"


class CornerReflector(models.Model):
    code = models.CharField(max_length=20, unique=True)
    geom = models.PointField(srid=4326)
    apex_height = models.FloatField(null=True, blank=True, help_text="m")
    leg_length = models.FloatField(help_text="Inner leg length a, m")
    boresight_azimuth = models.FloatField(null=True, blank=True, help_text="degrees")
    boresight_elevation = models.FloatField(null=True, blank=True, help_text="degrees")
    facing_orbits = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    install_date = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return self.code


class ReflectorMeasurement(models.Model):
    """SCR and RCS of one reflector in one acquisition."""

    reflector = models.ForeignKey(
        CornerReflector, on_delete=models.CASCADE, related_name="measurements"
    )
    acquisition_date = models.DateField()
    relative_orbit = models.PositiveSmallIntegerField(null=True, blank=True)
    scr_db = models.FloatField(help_text="Signal-to-clutter ratio, dB")
    rcs_dbm2 = models.FloatField(null=True, blank=True, help_text="Measured RCS, dBm²")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reflector", "acquisition_date", "relative_orbit"],
                name="reflector_measurement_unique",
            ),
        ]


class MaskedArea(models.Model):
    """A polygon whose points are hidden from everyone without the view_masked permission."""

    name = models.CharField(max_length=200)
    geom = models.MultiPolygonField(srid=4326)
    reason = models.TextField()
    # Empty means every dataset.
    datasets = models.ManyToManyField(Dataset, blank=True, related_name="masked_areas")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("view_masked", "Can see points inside masked areas")]

    def __str__(self) -> str:
        return self.name


class ProcessingJob(models.Model):
    class Kind(models.TextChoices):
        FIT = "fit", "Time-series fit"
        REFERENCE = "reference", "Re-referencing"
        CALIBRATE = "calibrate", "GNSS calibration (L2b)"
        DECOMPOSE = "decompose", "Decomposition (L3)"
        REFLECTOR = "reflector", "Corner-reflector analysis"
        EXPORT = "export", "Export"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    parameters = models.JSONField(default=dict, blank=True)
    inputs = models.ManyToManyField(Dataset, blank=True, related_name="+")
    output = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0..1")
    message = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Who runs it ("celery@host pid 123") and when it last said it was alive: a running job
    # whose heartbeat is older than JOB_LOST_AFTER_S is failed by processing.runs.reap_lost_jobs.
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Used by the admin and API job lists, newest first per state.
            models.Index(fields=["state", "-created_at"], name="job_state_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"


class DownloadRecord(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    datasets = models.ManyToManyField(Dataset, related_name="downloads")
    area = models.GeometryField(srid=4326, null=True, blank=True)
    format = models.CharField(max_length=20)
    point_count = models.PositiveIntegerField(default=0)
    byte_count = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Used by per-user daily limits and the user's download history.
            models.Index(fields=["user", "-created_at"], name="download_user_created"),
        ]


class TileCell(models.Model):
    """A pre-aggregated cell of one dataset at one zoom level (groundmotion/cells.py).

    Each web-mercator tile of zoom `zoom` is split into CELLS_PER_TILE x CELLS_PER_TILE cells;
    (cell_column, cell_row) index the cell over the whole world, rows from the top. Built from
    the points an anonymous user may aggregate (masked areas excluded), so one table serves
    every user. Aggregating millions of points per low-zoom tile on the fly is too slow.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, db_index=False, related_name="+")
    zoom = models.SmallIntegerField()
    tile_x = models.IntegerField()
    tile_y = models.IntegerField()
    cell_column = models.IntegerField()
    cell_row = models.IntegerField()
    count = models.IntegerField(help_text="Points in the cell")
    velocity_sum = models.FloatField(help_text="Sum of the velocities of the cell, mm/yr")
    velocity_count = models.IntegerField(help_text="Points with a velocity")
    coherence_sum = models.FloatField()
    coherence_count = models.IntegerField()

    class Meta:
        indexes = [
            # One tile's cells (tiles.CELL_TILE_SQL): a probe per level tile, a range of rows; a
            # point tile's count (tiles.TILE_POINT_COUNT_SQL) reads only the rows and columns
            # of its window, from the index alone.
            models.Index(
                fields=["dataset", "zoom", "tile_x", "tile_y", "cell_row", "cell_column"],
                include=["count"],
                name="tilecell_tile",
            ),
        ]


class CellSeries(models.Model):
    """The summed displacement series of a TileCell's points (storage/cell_series.py): what a
    period, two-date or re-referenced cell tile is fitted from without reading the points.

    Keyed like TileCell (same zoom numbering, reduced levels at REDUCED_ZOOM_OFFSET + level).
    `sums` holds float32 little-endian mm per dataset date, `counts` int32 little-endian points
    with a value per date; the mean series is sums / counts.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, db_index=False, related_name="+")
    zoom = models.SmallIntegerField()
    tile_x = models.IntegerField()
    tile_y = models.IntegerField()
    cell_column = models.IntegerField()
    cell_row = models.IntegerField()
    sums = models.BinaryField()
    counts = models.BinaryField()

    class Meta:
        indexes = [
            models.Index(
                fields=["dataset", "zoom", "tile_x", "tile_y", "cell_row", "cell_column"],
                name="cellseries_tile",
            ),
        ]
