"""Point ids carry their dataset: id = dataset_id * 2^40 + n, n drawn from one sequence.

Why: points are partitioned by dataset (LIST on dataset_id), series and extras by id range
(RANGE on point_id, one range a dataset). A lookup by id alone would make the planner probe
every partition's primary key (2 ms of planning at 52 datasets, against 0.3 ms at 2): with
the dataset known from the id, every lookup prunes to one partition.

n comes from the points' one sequence, so ids of two datasets never collide and no per-dataset
counter is locked: 2^40 (1.1 x 10^12) ids drawn in all before it runs out. Ids stay below
2^53, exact in JavaScript (tiles, JSON), for datasets below 2^13 (8,192); a bigint holds
them up to 2^23 datasets. A multiple of 2^40 is one of every stride (1024 at most), so
`mod(id, stride)` keeps its meaning for the stride indexes.
"""

from __future__ import annotations

from django.db.models import Q

SHIFT = 40
# The largest dataset id whose point ids fit a bigint; past 2^13 they exceed 2^53.
MAX_DATASET_ID = 2 ** (63 - SHIFT) - 1
JS_SAFE_DATASET_ID = 2 ** (53 - SHIFT) - 1


def dataset_of(point_id: int) -> int:
    """The dataset whose range holds the id."""
    return int(point_id) >> SHIFT


def id_range(dataset_id: int) -> tuple[int, int]:
    """The dataset's ids: [low, high), the bounds of its series and extras partitions."""
    dataset_id = int(dataset_id)
    if not 0 < dataset_id <= MAX_DATASET_ID:
        raise ValueError(f"dataset id {dataset_id} is outside 1..{MAX_DATASET_ID}")
    return dataset_id << SHIFT, (dataset_id + 1) << SHIFT


def in_range(dataset_id: int, numbers: object) -> object:
    """Sequence numbers (ints or a numpy array) moved into the dataset's range."""
    return numbers + id_range(dataset_id)[0]


def lookup(point_id: int) -> Q:
    """The filter of one point by id, pruned to its dataset's partition."""
    return Q(pk=point_id, dataset_id=dataset_of(point_id))


def lookup_many(point_ids: list[int]) -> Q:
    """The filter of points by ids, pruned to their datasets' partitions. (Series and extras,
    partitioned on the id itself, prune on `point_id__in` alone.)"""
    ids = [int(value) for value in point_ids]
    return Q(pk__in=ids, dataset_id__in=sorted({dataset_of(value) for value in ids}))


def series_bounds_sql(alias: str, dataset_id: int) -> str:
    """`alias.point_id` within the dataset's range, inlined (constants prune at plan time): for
    joins of series or extras to a dataset's points, where the join alone would not prune."""
    low, high = id_range(dataset_id)
    return f"{alias}.point_id >= {low} AND {alias}.point_id < {high}"


def series_of(dataset_id: int) -> Q:
    """The filter of one dataset's series (or extras) rows through the ORM: its id range, and
    its points' dataset for the join to points the query makes. Selected by a subquery of
    point ids alone, neither table would be pruned."""
    low, high = id_range(dataset_id)
    return Q(point_id__gte=low, point_id__lt=high, point__dataset_id=dataset_id)
