"""The only place where access is decided. Every view, tile, plot and export starts here.

Rules (DESIGN.md):
- draft datasets: curators only;
- public: everyone; reduced: everyone sees aggregated cells, only signed-in users see points;
- registered: signed-in users; restricted: members of the dataset's allowed groups;
- masked areas hide their points from everyone without the view_masked permission.
Curators are staff users with the change_dataset permission.

Downloads (can_download): a signed-in, active user who sees the dataset's points, and whom the
dataset's download_policy admits: `viewers` (everyone who sees the points), `groups` (members
of its download_groups) or `nobody`. Curators may always download. Downloaded points are the
visible points: masked areas are excluded exactly as on the map.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, FilteredRelation, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404

from groundmotion import cells
from groundmotion.models import (
    Dataset,
    DownloadPolicy,
    MaskedArea,
    MeasurementPoint,
    Status,
    Visibility,
)
from groundmotion.storage import point_ids
from groundmotion.storage.compiled import STORE_LIMIT, CompiledLookup, remembered, store

AnyUser = User | AnonymousUser
# What anybody may see of a published dataset, signed in or not.
ANONYMOUS_VISIBILITIES = (Visibility.PUBLIC, Visibility.REDUCED)


def is_curator(user: AnyUser) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("groundmotion.change_dataset"))


def sees_masked_points(user: AnyUser) -> bool:
    return bool(user.is_active and user.has_perm("groundmotion.view_masked"))


def visible_datasets(user: AnyUser) -> QuerySet[Dataset]:
    """Datasets the user may know of (list, tiles of any kind)."""
    datasets = Dataset.objects.all()
    if is_curator(user):
        return datasets
    rule = Q(visibility__in=ANONYMOUS_VISIBILITIES)
    if user.is_authenticated:
        rule |= Q(visibility=Visibility.REGISTERED)
        rule |= Q(visibility=Visibility.RESTRICTED, allowed_groups__in=user.groups.all())
    return datasets.filter(rule, status=Status.PUBLISHED).distinct()


def sees_points(user: AnyUser, dataset: Dataset) -> bool:
    """Whether the user sees individual points (ids, series), not only aggregated cells.

    The caller must already have found the dataset through visible_datasets.
    """
    return dataset.visibility != Visibility.REDUCED or user.is_authenticated


def active_masks(dataset: Dataset | OuterRef) -> QuerySet[MaskedArea]:
    return MaskedArea.objects.filter(active=True).filter(
        Q(datasets__isnull=True) | Q(datasets=dataset)
    )


def sees_station_ties(user: AnyUser, dataset: Dataset) -> bool:
    """Whether the user sees a calibration's per-station InSAR values (the points around
    each station, masked ones included when it ran): only who sees the points, and through
    masks if the dataset has any."""
    if not sees_points(user, dataset):
        return False
    return sees_masked_points(user) or not active_masks(dataset).exists()


def visible_points(user: AnyUser, dataset: Dataset) -> QuerySet[MeasurementPoint]:
    """The dataset's points the user may see, masked areas already excluded.

    For aggregated cells of a reduced dataset use aggregatable_points instead: this one is
    empty for anonymous users there.
    """
    if not sees_points(user, dataset):
        return MeasurementPoint.objects.none()
    return aggregatable_points(user, dataset)


def aggregatable_points(
    user: AnyUser, dataset: Dataset, *, check_masks_first: bool = False
) -> QuerySet[MeasurementPoint]:
    """Points that may contribute to aggregated cells and averages: masked ones excluded.

    With `check_masks_first`, one query first tells whether any active mask applies to the
    dataset, and the exclusion is left out when none does: for bulk aggregations, where the
    per-point anti-join costs about 2 s per million points even with no mask at all.
    """
    points = MeasurementPoint.objects.filter(dataset=dataset)
    if sees_masked_points(user):
        return points
    if check_masks_first and not active_masks(dataset).exists():
        return points
    masked = active_masks(dataset).filter(geom__intersects=OuterRef("geom"))
    return points.filter(~Exists(masked))


def get_dataset_for_user(user: AnyUser, slug: str) -> tuple[Dataset, bool]:
    """(dataset, can_edit). 404 when the user may not see it, so its existence does not leak."""
    try:
        dataset = visible_datasets(user).get(slug=slug)
    except Dataset.DoesNotExist:
        raise Http404("No such dataset") from None
    return dataset, is_curator(user)


# Dataset fields a point request does not need, left in the database (loaded only if touched):
# the product header and geometries cost more to decode than the rest of the row.
POINT_DATASET_DEFERRED = (
    "dataset__metadata",
    "dataset__provenance",
    "dataset__extent",
    "dataset__reference_area",
    "dataset__description",
)


def datasets_with_visible_points(user: AnyUser) -> QuerySet[Dataset]:
    """Visible datasets whose individual points the user sees (sees_points, as a queryset)."""
    datasets = visible_datasets(user)
    if user.is_authenticated:
        return datasets
    return datasets.exclude(visibility=Visibility.REDUCED)


# Stands for the point id in the compiled queries (no point has a negative id).
POINT_PLACEHOLDER = -(2**62)
point_lookups: dict[tuple, CompiledLookup] = store("point lookups")


def point_lookup(user: AnyUser, with_series: bool, dataset_id: int) -> CompiledLookup:
    """point_for_user's one query for points of one dataset: the point with its dataset (and
    series), found only if the user may see both. Compiled once per process, dataset and kind
    of user.

    Optimization: one statement, no queryset built per request, prepared once per connection
    (compiled.py): on 10 M points planning it took 0.9 ms and running it 0.1 ms. The dataset
    (it follows from the id, storage/point_ids.py) and its series' id range are constants of
    the statement, so even its generic plan holds one partition of points and one of series:
    with the dataset a parameter, the generic plan would lock and prune every partition at
    each run (10 ms at 500 datasets, bench/README.md "partitions"). The SQL depends on the
    user only through is_curator, is_authenticated, their id and sees_masked_points (groups
    and masks are subqueries answered at each request), so those are the rest of the key.
    """
    key = (
        dataset_id,
        with_series,
        is_curator(user),
        bool(user.is_authenticated),
        user.pk,
        sees_masked_points(user),
    )

    def build() -> CompiledLookup:
        points = MeasurementPoint.objects.defer(*POINT_DATASET_DEFERRED)
        related = ["dataset"]
        if with_series:
            low, high = (literal(bound) for bound in point_ids.id_range(dataset_id))
            in_range = Q(series__point_id__gte=low, series__point_id__lt=high)
            points = points.annotate(dataset_series=FilteredRelation("series", condition=in_range))
            related.append("dataset_series")
        points = points.select_related(*related).filter(
            pk=POINT_PLACEHOLDER,
            dataset_id=literal(dataset_id),
            dataset__in=datasets_with_visible_points(user).values("pk"),
        )
        if not sees_masked_points(user):
            masked = active_masks(OuterRef("dataset_id")).filter(geom__intersects=OuterRef("geom"))
            points = points.filter(~Exists(masked))
        return CompiledLookup(points.order_by("pk")[:1], POINT_PLACEHOLDER)

    return remembered(point_lookups, key, build)


def literal(number: int) -> RawSQL:
    """An integer written into the SQL, not bound: a prepared statement's generic plan prunes
    partitions on constants only."""
    return RawSQL(str(int(number)), ())


def point_for_user(
    user: AnyUser, point_id: int, with_series: bool = False
) -> tuple[MeasurementPoint, Dataset]:
    """A point the user may see, with its dataset; 404 otherwise (never 403: no leak).

    with_series also fetches the point's PointSeries row (point.series) in the same query.
    """
    dataset_id = point_ids.dataset_of(point_id) if 0 < point_id < 2**63 else 0
    if not 0 < dataset_id <= point_ids.MAX_DATASET_ID:  # in no dataset's range
        raise Http404("No such point")
    point = point_lookup(user, with_series, dataset_id).first(point_id)
    if point is None:
        raise Http404("No such point")
    series = getattr(point, "dataset_series", None)  # absent when the point has no series
    if series is not None:
        point.series = series  # else point.series raises DoesNotExist
    return point, point.dataset


points_sql_texts: dict[tuple[int, bool, bool, tuple[str, ...]], str] = store("visible points SQL")


def visible_points_sql(user: AnyUser, dataset: Dataset, extra: tuple[str, ...] = ()) -> str:
    """The SQL of visible_points' id, geom, velocity and coherence (and the `extra` point
    columns), parameters inlined, for a statement to wrap (point tiles). Kept per dataset, the
    two rules that vary per user and the columns.

    Optimization: building and compiling the access queryset cost more Python time per tile
    than the statement's round trip. Masked areas are read by the statement itself, so the
    kept text never holds a stale access decision.
    """
    key = (dataset.pk, sees_points(user, dataset), sees_masked_points(user), extra)

    def build() -> str:
        values = visible_points(user, dataset).values(
            "id", "geom", "velocity", "temporal_coherence", *extra
        )
        return connection.ops.compose_sql(*values.query.sql_with_params())

    return remembered(points_sql_texts, key, build)


def can_download(user: AnyUser, dataset: Dataset) -> bool:
    """Whether the user may download the dataset's points (it must already be visible to them).

    Call visible_datasets (or get_dataset_for_user) first: a dataset the user cannot see must
    answer 404, never 403, so that its existence does not leak.
    """
    if not (user.is_authenticated and user.is_active):
        return False
    if is_curator(user):
        return True
    if not sees_points(user, dataset):
        return False
    if dataset.download_policy == DownloadPolicy.VIEWERS:
        return True
    if dataset.download_policy == DownloadPolicy.GROUPS:
        return dataset.download_groups.filter(pk__in=user.groups.values("pk")).exists()
    return False


def downloadable_datasets(user: AnyUser) -> QuerySet[Dataset]:
    """Visible datasets the user may download, for the download dialog and the account page."""
    if not (user.is_authenticated and user.is_active):
        return Dataset.objects.none()
    datasets = visible_datasets(user)
    if is_curator(user):
        return datasets
    rule = Q(download_policy=DownloadPolicy.VIEWERS)
    rule |= Q(download_policy=DownloadPolicy.GROUPS, download_groups__in=user.groups.all())
    return Dataset.objects.filter(pk__in=datasets.filter(rule).values("pk"))


def get_downloadable_dataset(user: AnyUser, slug: str) -> Dataset:
    """The dataset to download: 404 if the user may not see it, PermissionDenied if they may
    see it but not download it (the caller turns an anonymous user away before this)."""
    dataset, _ = get_dataset_for_user(user, slug)
    if not can_download(user, dataset):
        raise PermissionDenied("You do not have the download permission on this dataset.")
    return dataset


def describe(user: AnyUser) -> dict[str, Any]:
    """What the templates need to show the login state."""
    return {
        "authenticated": bool(user.is_authenticated),
        "username": user.get_username() if user.is_authenticated else "",
        "curator": is_curator(user),
    }


def require_points(user: AnyUser, dataset: Dataset) -> None:
    """403 when the user sees the dataset (cells) but not its points, series or plots.

    The caller must already have found the dataset through visible_datasets.
    """
    if not sees_points(user, dataset):
        raise PermissionDenied("This dataset is public at reduced resolution: sign in for points")


# What a tile request reads of its dataset: the access fields and the version of the cache keys.
TILE_DATASET_FIELDS = ("id", "slug", "version", "status", "visibility")


def get_dataset_for_tiles(user: AnyUser, slug: str) -> Dataset:
    """The dataset of a tile request, by the same rule as get_dataset_for_user (404 when the
    user may not see it), reading only TILE_DATASET_FIELDS.

    Optimization: its SQL, compiled from visible_datasets, is kept per process and kind of
    user (tile_lookup), and the row becomes a Dataset without a queryset. For anonymous
    users the answer about a published public dataset is also kept for PUBLIC_TILE_LOOKUP_MS
    (public_tile_lookups): a tile from the cache then takes no query at all.
    """
    anonymous = not user.is_authenticated
    if anonymous:
        kept = public_tile_lookups.get(slug)
        if kept is not None and monotonic() < kept[0]:
            return kept[1]
    dataset = tile_lookup(user).first(slug)
    if dataset is None:
        raise Http404("No such dataset")
    if anonymous:
        keep_public_tile_lookup(dataset)
    return dataset


# Anonymous tile lookups of published public datasets: slug -> (monotonic expiry, dataset).
# Why this is safe: only a dataset everybody could see enters, and for at most a second or so.
# Its tiles already go out as Cache-Control "public, max-age=3600", which lets any shared cache
# in front of the service serve them for an hour after the dataset stops being public; this
# keeps the answer far shorter. Draft, registered and restricted datasets never enter (the
# anonymous lookup does not find them), signed-in users always ask the database, and every
# other path (API, plots, exports) asks it at every request.
public_tile_lookups: dict[str, tuple[float, Dataset]] = store("public tile lookups")


def keep_public_tile_lookup(dataset: Dataset) -> None:
    seconds = settings.GROUNDMOTION["PUBLIC_TILE_LOOKUP_MS"] / 1000
    public = dataset.status == Status.PUBLISHED and dataset.visibility in ANONYMOUS_VISIBILITIES
    if seconds <= 0 or not public:
        return
    if len(public_tile_lookups) >= STORE_LIMIT:
        public_tile_lookups.clear()
    public_tile_lookups[dataset.slug] = (monotonic() + seconds, dataset)


# Stands for the slug in the compiled lookup; replaced by the request's slug at each query.
SLUG_PLACEHOLDER = "\x00slug\x00"
tile_lookups: dict[tuple[bool, bool, int | None], CompiledLookup] = store("tile lookups")


def tile_lookup(user: AnyUser) -> CompiledLookup:
    """get_dataset_for_tiles' query for this user, compiled once per process.

    visible_datasets' SQL depends only on whether the user is a curator, is signed in, and on
    their id (group membership is a subquery the database answers at each request), so those
    three are the key: a change of groups or of a dataset's state takes effect at once.
    """
    key = (is_curator(user), bool(user.is_authenticated), user.pk)

    def build() -> CompiledLookup:
        lookup = visible_datasets(user).filter(slug=SLUG_PLACEHOLDER).only(*TILE_DATASET_FIELDS)
        return CompiledLookup(lookup, SLUG_PLACEHOLDER)

    return remembered(tile_lookups, key, build)


Extent = tuple[float, float, float, float]


def visible_summary(user: AnyUser, dataset: Dataset) -> tuple[int, Extent | None]:
    """(point count, extent as west, south, east, north in WGS84 degrees) the user may know.

    A user who sees only cells of a reduced dataset gets the extent widened to whole reduced
    cells (cells.reduced_extent), no finer on the ground than the tiles.
    """
    count, extent = summary_without_masked(user, dataset)
    if extent is None or sees_points(user, dataset):
        return count, extent
    return count, cells.reduced_extent(extent)


def summary_without_masked(user: AnyUser, dataset: Dataset) -> tuple[int, Extent | None]:
    """The count and extent without the points the user may not see under masks.

    The stored count and extent include masked points, so they would reveal them: for a user
    who may not see masked points, both come from the tile cells, which are built without them
    (cells.summary_from_cells). Cached per dataset version, which every mask change bumps.
    """
    stored = tuple(dataset.extent.extent) if dataset.extent else None
    if sees_masked_points(user) or not active_masks(dataset).exists():
        return dataset.point_count, stored
    key = f"visible-summary:{dataset.pk}:{dataset.version}"
    return cache.get_or_set(key, lambda: cells.summary_from_cells(dataset), 3600)
