"""The features of a collection: a dataset's visible points, or, for a user who sees only
cells of a reduced dataset, its public reduced cells (no point ids, no finer than the tiles).

Paging is keyset, not OFFSET: a page asks for ids after the last one of the page before, so a
page deep into ten million points costs what the first one does (bench/ogc.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.geos import Polygon
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import Http404

from groundmotion import access, cells
from groundmotion.api.views import Latitude, Longitude
from groundmotion.models import Dataset, MeasurementPoint, PointSeries, TileCell
from groundmotion.storage import series_codec
from groundmotion.storage.replicas import read_connection
from ogc.parameters import RANGES, ItemsQuery

# Point properties, in this order: model field -> property name.
POINT_PROPERTIES = {
    "pid": "pid",
    "velocity": "velocity",
    "velocity_std": "velocity_std",
    "acceleration": "acceleration",
    "acceleration_std": "acceleration_std",
    "seasonality": "seasonality",
    "seasonality_std": "seasonality_std",
    "temporal_coherence": "coherence",
    "height": "height",
    "rmse": "rmse",
    "amplitude_dispersion": "amplitude_dispersion",
    "incidence_angle": "incidence_angle",
    "track_angle": "track_angle",
    "los_east": "los_east",
    "los_north": "los_north",
    "los_up": "los_up",
    "mp_type": "mp_type",
}
# Filtered pages say how many features match when at most this many do.
COUNT_LIMIT = 50_000


@dataclass
class Page:
    features: list[dict]
    matched: int | None
    next_after: int | None  # the `after` of the next page, None on the last one


def overlaps_period(dataset: Dataset, query: ItemsQuery) -> bool:
    """Whether the asked datetime meets the dataset's acquisitions (every point's time)."""
    if not query.period:
        return True
    dates = dataset.acquisition_dates
    if not dates:
        return False
    start, end = query.period
    return (start is None or start <= dates[-1]) and (end is None or end >= dates[0])


def bbox_polygon(bbox: tuple[float, float, float, float]) -> Polygon:
    box = Polygon.from_bbox(bbox)
    box.srid = 4326
    return box


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def filtered_points(user, dataset: Dataset, query: ItemsQuery) -> QuerySet[MeasurementPoint]:
    points = access.visible_points(user, dataset)
    if query.bbox:
        points = points.filter(geom__intersects=bbox_polygon(query.bbox))
    for name, value in query.ranges.items():
        column, operator = RANGES[name]
        points = points.filter(**{f"{column}__{'gte' if operator == '>=' else 'lte'}": value})
    return points


# Digits kept per property: 0.001 mm/yr and mm are far below any product's precision; the
# unit vector's components keep six.
DIGITS = {name: 6 if name.startswith("los_") else 3 for name in POINT_PROPERTIES.values()}


def point_feature(row: dict, series: dict[int, list] | None, dates: list[str]) -> dict:
    properties = {}
    for column, name in POINT_PROPERTIES.items():
        value = row[column]
        properties[name] = round(value, DIGITS[name]) + 0.0 if isinstance(value, float) else value
    if series is not None:
        properties["dates"] = dates
        properties["displacement"] = series.get(row["id"], [])
    point_id = row["id"]
    return {
        "type": "Feature",
        "id": point_id,
        "geometry": {"type": "Point", "coordinates": [round(row["lon"], 7), round(row["lat"], 7)]},
        "properties": properties,
        "links": [
            {"rel": "describedby", "type": "application/json", "href": f"/api/points/{point_id}/"},
            {"rel": "alternate", "type": "text/csv", "href": f"/api/points/{point_id}/series.csv"},
        ],
    }


def series_of(ids: list[int]) -> dict[int, list]:
    """Displacements (mm, dataset date order, None where missing) of these points."""
    found = PointSeries.objects.filter(point_id__in=ids).values_list("point_id", "displacements")
    return {
        point_id: [None if value != value else round(float(value), 2) for value in values]
        for point_id, raw in found
        for values in [series_codec.decode(raw)]
    }


def point_rows(points: QuerySet[MeasurementPoint]) -> QuerySet:
    return points.annotate(lon=Longitude("geom"), lat=Latitude("geom")).values(
        "id", "lon", "lat", *POINT_PROPERTIES
    )


def point_page(user, dataset: Dataset, query: ItemsQuery) -> Page:
    if not overlaps_period(dataset, query):
        return Page([], 0, None)
    points = filtered_points(user, dataset, query)
    page = points if query.after is None else points.filter(id__gt=query.after)
    database = read_connection()
    # The page's rows are read in this transaction: the router sends them to the same database.
    with transaction.atomic(using=database.alias), database.cursor() as cursor:
        # A page reads ~1,000 rows from the id index in ~1 ms; starting parallel workers for
        # it costs ~40 ms (bench/ogc.py), as for tiles.
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        rows = list(point_rows(page).order_by("id")[: query.limit + 1])
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    series = series_of([row["id"] for row in rows]) if query.series else None
    dates = [day.isoformat() for day in dataset.acquisition_dates]
    return Page(
        [point_feature(row, series, dates) for row in rows],
        matched_points(user, dataset, points, query),
        rows[-1]["id"] if more else None,
    )


def matched_points(user, dataset: Dataset, points: QuerySet, query: ItemsQuery) -> int | None:
    """All the visible points, from the summary (no scan) unless filters narrow them; then
    counted up to COUNT_LIMIT, and left out above it (Part 1 makes numberMatched optional):
    counting 180,000 points in a town's box cost 300 ms a page (bench/ogc.py)."""
    if not query.is_filtered:
        return access.visible_summary(user, dataset)[0]
    counted = points[: COUNT_LIMIT + 1].count()
    return counted if counted <= COUNT_LIMIT else None


def one_point(user, dataset: Dataset, feature_id: str, with_series: bool) -> dict:
    if not feature_id.isdigit() or int(feature_id) >= 2**63:
        raise Http404("No such feature")
    rows = list(point_rows(access.visible_points(user, dataset).filter(id=int(feature_id))))
    if not rows:
        raise Http404("No such feature")
    series = series_of([rows[0]["id"]]) if with_series else None
    dates = [day.isoformat() for day in dataset.acquisition_dates]
    return point_feature(rows[0], series, dates)


# Reduced cells: the level whose cells pass the floor over the whole dataset (as its extent).
def reduced_zoom(dataset: Dataset) -> int:
    extent = access.visible_summary(AnonymousUser(), dataset)[1]
    if extent is None:
        return cells.REDUCED_ZOOM_OFFSET
    return cells.REDUCED_ZOOM_OFFSET + cells.reduced_level(max(abs(extent[1]), abs(extent[3])))


def cell_polygon(level: int, column: int, row: int) -> list:
    per_world = cells.CELLS_PER_TILE * 2**level
    west, east = column / per_world * 360 - 180, (column + 1) / per_world * 360 - 180
    north, south = cells.row_edge_latitude(level, row), cells.row_edge_latitude(level, row + 1)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return [[[round(x, 7), round(y, 7)] for x, y in ring]]


def cell_id(level: int, column: int, row: int) -> str:
    return f"cell-{level}-{column}-{row}"


def cell_feature(row: dict) -> dict:
    level = row["zoom"] - cells.REDUCED_ZOOM_OFFSET
    velocity = row["velocity_sum"] / row["velocity_count"] if row["velocity_count"] else None
    coherence = row["coherence_sum"] / row["coherence_count"] if row["coherence_count"] else None
    return {
        "type": "Feature",
        "id": cell_id(level, row["cell_column"], row["cell_row"]),
        "geometry": {
            "type": "Polygon",
            "coordinates": cell_polygon(level, row["cell_column"], row["cell_row"]),
        },
        "properties": {
            "count": row["count"],
            "velocity": rounded(velocity),
            "coherence": rounded(coherence),
            "level": level,
        },
    }


CELL_FIELDS = (
    "id",
    "zoom",
    "cell_column",
    "cell_row",
    "count",
    "velocity_sum",
    "velocity_count",
    "coherence_sum",
    "coherence_count",
)


def reduced_cells(dataset: Dataset, query: ItemsQuery) -> QuerySet[TileCell]:
    stored = TileCell.objects.filter(dataset=dataset, zoom=reduced_zoom(dataset), count__gt=0)
    level = reduced_zoom(dataset) - cells.REDUCED_ZOOM_OFFSET
    if query.bbox:
        west, south, east, north = query.bbox
        per_world = cells.CELLS_PER_TILE * 2**level
        stored = stored.filter(
            cell_column__gte=int((west + 180) / 360 * per_world),
            cell_column__lte=int((east + 180) / 360 * per_world),
            cell_row__gte=int(cells.mercator_fraction(north) * per_world),
            cell_row__lte=int(cells.mercator_fraction(south) * per_world),
        )
    for name, value in query.ranges.items():
        column, operator = RANGES[name]
        total = "velocity" if column == "velocity" else "coherence"
        mean = f"{total}_mean"
        stored = stored.filter(**{f"{total}_count__gt": 0}).alias(
            **{mean: F(f"{total}_sum") / F(f"{total}_count")}
        )
        stored = stored.filter(**{f"{mean}__{'gte' if operator == '>=' else 'lte'}": value})
    return stored


def cell_page(dataset: Dataset, query: ItemsQuery) -> Page:
    if not overlaps_period(dataset, query):
        return Page([], 0, None)
    stored = reduced_cells(dataset, query)
    page = stored if query.after is None else stored.filter(id__gt=query.after)
    rows = list(page.values(*CELL_FIELDS).order_by("id")[: query.limit + 1])
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return Page(
        [cell_feature(row) for row in rows], stored.count(), rows[-1]["id"] if more else None
    )


def one_cell(dataset: Dataset, feature_id: str) -> dict:
    parts = feature_id.split("-")
    if len(parts) != 4 or parts[0] != "cell" or not all(part.isdigit() for part in parts[1:]):
        raise Http404("No such feature")
    level, column, row = (int(part) for part in parts[1:])
    if cells.REDUCED_ZOOM_OFFSET + level != reduced_zoom(dataset):
        raise Http404("No such feature")
    found = list(
        TileCell.objects.filter(
            dataset=dataset,
            zoom=cells.REDUCED_ZOOM_OFFSET + level,
            cell_column=column,
            cell_row=row,
            count__gt=0,
        ).values(*CELL_FIELDS)
    )
    if not found:
        raise Http404("No such feature")
    return cell_feature(found[0])


def items_page(user, dataset: Dataset, query: ItemsQuery) -> Page:
    if access.sees_points(user, dataset):
        return point_page(user, dataset, query)
    return cell_page(dataset, query)


def item(user, dataset: Dataset, feature_id: str, with_series: bool) -> dict:
    if access.sees_points(user, dataset):
        return one_point(user, dataset, feature_id, with_series)
    return one_cell(dataset, feature_id)
